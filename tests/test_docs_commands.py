"""Every command in the docs is tested as written: each ``python scripts/NAME.py ...`` and ``ridge-decode ...`` line
of the shell blocks of README.md and docs/*.md parses with the real click command (an unknown option, or a missing
required one, fails this test)."""

import re
import shlex
from pathlib import Path

import click
import pytest

from ridge_decode.cli import main

REPO = Path(__file__).resolve().parents[1]
SCRIPT_COMMANDS = {"check_data": "check-data", "fetch_nsd": "fetch-nsd", "extract_features": "extract-features",
                   "reproduce_nsd": "reproduce"}


def _commands():
    """(file, line, argv) of every command in a shell block; continuation lines joined, comments dropped."""
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for block in re.findall(r"```bash\n(.*?)```", path.read_text(), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split("  #")[0].split(" # ")[0].strip()
                # [--option value] marks an optional part: documentation of the options, not an argument
                words = shlex.split(re.sub(r"\[[^\]]*\]", " ", line)) if line else []
                if len(words) >= 2 and words[0] == "python" and words[1].startswith("scripts/"):
                    name = Path(words[1]).stem
                    yield path.name, line, [SCRIPT_COMMANDS.get(name, name.replace("_", "-")), *words[2:]]
                elif words and words[0] == "ridge-decode":
                    yield path.name, line, words[1:]


COMMANDS = list(_commands())


@pytest.mark.parametrize("where,line,argv", COMMANDS, ids=[f"{w}: {line[:60]}" for w, line, _ in COMMANDS])
def test_documented_command_parses(where, line, argv):
    ctx = click.Context(main)
    command = main.get_command(ctx, argv[0])
    assert command is not None, f"{where}: unknown command in {line!r}"
    try:
        command.make_context(argv[0], argv[1:], parent=ctx, resilient_parsing=False)
    except click.exceptions.Exit:
        pass  # --help, --list: the command's own exit
    except click.UsageError as exc:
        pytest.fail(f"{where}: {line!r} does not parse: {exc.format_message()}")


def test_the_docs_hold_commands():
    assert len(COMMANDS) > 30


def test_a_wrong_documented_command_would_fail():
    ctx = click.Context(main)
    with pytest.raises(click.UsageError):
        main.get_command(ctx, "fit").make_context("fit", ["--target", "pixels"], parent=ctx)
    with pytest.raises(click.UsageError):  # a missing required option
        main.get_command(ctx, "predict").make_context("predict", [], parent=ctx)
