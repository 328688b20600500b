"""The pinned dependency set (``requirements/constraints.txt``): write it, check an environment against it.

``python tools/pins.py write FILE`` writes ``FILE`` from the packages installed in the running Python
(what ``pip install -e ".[dev]"`` resolved there, the torch pair included), one ``name==version`` a line.
``python tools/pins.py check FILE`` exits 1, naming each package, when an installed version differs from
its pin; a pinned package that is not installed is only counted (pip installs only what is asked for, so a pin
for another platform's package is not an error). A developer tool, outside the package: reading the file and the
``pinned_set`` that every result's ``versions`` records live in ``ridge_decode.runtime.pinned``.
"""

from __future__ import annotations

import sys
from datetime import date

from ridge_decode.runtime.pinned import installed, mismatches, pinned_set, read_pins  # noqa: F401

HEADER = """\
# The pinned set that `make demo` and `make test` install (pip constraints: pins apply only to what is asked for).
# Regenerate with `make upgrade-deps` (the newest versions the registries serve), then run `make test` and commit
# this file alone, so that the version diff is one commit. pyproject.toml keeps the ranges for other environments.
# No hashes: `pip install -e .` cannot run in pip's hash-checking mode.
"""
SKIP = {"ridge-decode", "pip", "setuptools", "wheel", "uv"}  # the package itself and the venv's own tools


def write(path: str) -> None:
    """Write every installed distribution but the package and the venv's tools as a constraints file."""
    env = installed()
    lines = [f"{name}=={env[name]}" for name in sorted(env) if name not in SKIP]
    py = ".".join(map(str, sys.version_info[:3]))
    with open(path, "w") as f:
        f.write(HEADER + f"# Resolved on {date.today().isoformat()} with Python {py}.\n")
        f.write("\n".join(lines) + "\n")
    print(f"{path}: {len(lines)} pins")


def check(path: str) -> int:
    """0 if every installed pinned package has its pinned version, else 1 (the mismatches are printed)."""
    env, pins = installed(), read_pins(path)
    wrong = mismatches(path)
    absent = sorted(n for n in pins if n not in env)
    for name, (want, found) in sorted(wrong.items()):
        print(f"{path}: {name} is pinned to {want}, but {found} is installed", file=sys.stderr)
    note = f" ({len(absent)} pins not needed here: {', '.join(absent[:5])}{' ...' if len(absent) > 5 else ''})"
    print(f"{path}: {len(pins) - len(absent) - len(wrong)} installed packages match their pins"
          + (note if absent else ""))
    return 1 if wrong else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        raise SystemExit("usage: python tools/pins.py write|check FILE")
    if sys.argv[1] == "write":
        write(sys.argv[2])
    else:
        sys.exit(check(sys.argv[2]))
