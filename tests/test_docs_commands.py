"""Every command in the docs is tested as written: each ``python scripts/NAME.py ...`` and ``ridge-decode ...`` line
of the shell blocks of README.md and docs/*.md parses with the real click command (an unknown option, or a missing
required one, fails this test)."""

import ast
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
# a command suggested inside a message: up to a backtick, the end of the line, a bracket, a semicolon or " ("
SUGGESTED = re.compile(r"(?:python scripts/\w+\.py|ridge-decode [a-z][a-z-]*)(?:(?! \()[^`\n);])*")
FIELD = "\x00"  # where an f-string's {value} was


def _argv(command: str) -> list[str]:
    """A suggested command as argv: placeholders (<data root>, <N>) and values ({key}) become "1"; "..." goes."""
    words = [w for w in shlex.split(re.sub(r"<[^>]+>", "1", command)) if w != "..."]
    name = words[1][len("scripts/"):-3] if words[0] == "python" else words[1]
    argv = [SCRIPT_COMMANDS.get(name, name.replace("_", "-"))]
    for w in words[2:]:
        if w == FIELD:  # the value of the option before it, else (a whole {options} text) nothing
            if argv[-1].startswith("--"):
                argv.append("1")
        else:
            argv.append(w.replace(FIELD, "1"))
    return argv


def _message_texts():
    """(where, text) of every string literal of the package, an f-string's values as FIELD."""
    for path in sorted((REPO / "ridge_decode").rglob("*.py")):
        inner = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.JoinedStr):
                inner |= {id(v) for v in node.values}
                yield f"{path.name}:{node.lineno}", "".join(
                    v.value if isinstance(v, ast.Constant) else FIELD for v in node.values)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in inner:
                yield f"{path.name}:{node.lineno}", node.value


def _suggested():
    from ridge_decode.manifest import load_manifest

    for where, text in _message_texts():
        for m in SUGGESTED.finditer(text):
            yield where, m.group(0).strip()
    manifest = load_manifest()
    for entry in manifest.entries.values():  # the hints composed at run time, for each entry
        for subject in (None, 1):
            for m in SUGGESTED.finditer(manifest.where_to_get(entry, subject)):
                yield f"where_to_get({entry.key!r}, {subject})", m.group(0).strip()


SUGGESTIONS = sorted(set(_suggested()))


def _parses(where: str, line: str, argv: list[str]) -> None:
    ctx = click.Context(main)
    command = main.get_command(ctx, argv[0])
    assert command is not None, f"{where}: unknown command in {line!r}"
    try:
        command.make_context(argv[0], argv[1:], parent=ctx, resilient_parsing=False)
    except click.exceptions.Exit:
        pass  # --help, --list: the command's own exit
    except click.UsageError as exc:
        pytest.fail(f"{where}: {line!r} does not parse: {exc.format_message()}")


@pytest.mark.parametrize("where,line,argv", COMMANDS, ids=[f"{w}: {line[:60]}" for w, line, _ in COMMANDS])
def test_documented_command_parses(where, line, argv):
    _parses(where, line, argv)


@pytest.mark.parametrize("where,line", SUGGESTIONS, ids=[f"{w}: {line[:50]}" for w, line in SUGGESTIONS])
def test_command_suggested_by_a_message_parses(where, line):
    if line.split()[:2] == ["ridge-decode", "COMMAND"]:
        pytest.skip("the docstring's placeholder for any command")
    _parses(where, line, _argv(line))


def test_messages_suggest_commands():
    assert len(SUGGESTIONS) > 10
    assert any(w.startswith("where_to_get") and "fetch_nsd.py" in line for w, line in SUGGESTIONS)


def test_the_docs_hold_commands():
    assert len(COMMANDS) > 30


def test_a_wrong_documented_command_would_fail():
    ctx = click.Context(main)
    with pytest.raises(click.UsageError):
        main.get_command(ctx, "fit").make_context("fit", ["--target", "pixels"], parent=ctx)
    with pytest.raises(click.UsageError):  # a missing required option
        main.get_command(ctx, "predict").make_context("predict", [], parent=ctx)
