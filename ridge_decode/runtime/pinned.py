"""The pinned dependency set (``requirements/constraints.txt``) as every result's ``versions`` records it.

``pinned_set()`` gives the file's sha256 and whether the running environment matches it. Writing and checking the
file is a developer's job: ``tools/pins.py`` (``make setup``, ``make upgrade-deps``). ``importlib.metadata`` only.
"""

from __future__ import annotations

import hashlib
import re
from importlib import metadata
from pathlib import Path

CONSTRAINTS = Path(__file__).resolve().parents[2] / "requirements" / "constraints.txt"  # in a checkout


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed() -> dict[str, str]:
    """{normalised name: version} of every distribution in this environment."""
    return {_norm(d.metadata["Name"]): d.version for d in metadata.distributions()}


def read_pins(path: str) -> dict[str, str]:
    """{normalised name: version} from a constraints file of ``name==version`` lines."""
    pins = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, sep, version = line.partition("==")
            if not sep:
                raise SystemExit(f"{path}: expected 'name==version', found {line!r}")
            pins[_norm(name)] = version.strip()
    return pins


def mismatches(path) -> dict[str, tuple[str, str]]:
    """{name: (pinned, installed)} for every installed package whose version differs from its pin."""
    env, pins = installed(), read_pins(path)
    return {n: (v, env[n]) for n, v in pins.items() if n in env and env[n] != v}


def pinned_set(path=CONSTRAINTS) -> dict | None:
    """The pinned set beside this checkout: its file, sha256 (first 12 hex digits), and whether this environment
    matches it; None when the package is installed without its checkout (no constraints file at hand)."""
    path = Path(path)
    if not path.exists():
        return None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return {"file": "requirements/constraints.txt", "sha256": digest, "environment_matches": not mismatches(path)}
