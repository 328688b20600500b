"""The click group, the option parsers every command shares, and the one place where user errors become messages."""

from __future__ import annotations

import datetime
import functools
import os
import platform
import shlex
import signal
import sys
import tempfile
import threading
import traceback
from pathlib import Path

import click
import numpy as np
from tqdm import tqdm

from .source_options import SOURCE_OPTIONS

SUBJECT = click.IntRange(min=1)


class RegistryChoice(click.Choice):
    """A choice among a registry's names, read when the option is parsed: an entry registered later is offered."""

    def __init__(self, registry):
        self._registry = registry
        super().__init__(list(registry))

    @property
    def choices(self):
        return tuple(self._registry)

    @choices.setter
    def choices(self, value):  # click sets it in __init__; the registry is the truth
        pass


def deprecated_flag(old: str, new: str, dest: str, **option):
    """A hidden flag ``old`` that sets ``dest`` as ``new`` does, kept for one minor release: given, it prints one
    deprecation line naming ``new``; given with ``new``, a usage error. ``option``: click's settings for ``old``."""
    hidden = "_deprecated_" + old.lstrip("-").replace("-", "_")

    def decorate(f):
        @functools.wraps(f)
        def command(*args, **kwargs):
            value = kwargs.pop(hidden)
            if value is not None:
                ctx = click.get_current_context()
                if ctx.get_parameter_source(dest) is click.core.ParameterSource.COMMANDLINE:
                    raise click.UsageError(f"{old} is the old name of {new}: give {new} only")
                click.echo(f"{old} is deprecated since 0.2.0 and will be removed in 0.3.0: use {new}", err=True)
                kwargs[dest] = value
            return f(*args, **kwargs)

        return click.option(old, hidden, hidden=True, default=None, **option)(command)

    return decorate


def decoder_choice():
    """``--decoder``'s choices: the decoder registry's names (``decode.DECODERS``)."""
    # deferred: `ridge-decode --help` imports no stage
    from ..decode import DECODERS

    return RegistryChoice(DECODERS)


def device_choice():
    """The fit's ``--device`` choices: "cpu", "cuda" and himalaya's backend names (``ridge.DEVICES``)."""
    # deferred: `ridge-decode --help` imports no stage
    from ..ridge import DEVICES

    return click.Choice(DEVICES)


def metric_choice():
    """A metric's choices: the metric registry's names (``evaluation.image_metrics.REGISTRY``)."""
    # deferred: `ridge-decode --help` imports no stage
    from ..evaluation.image_metrics import REGISTRY

    return RegistryChoice(REGISTRY)
COUNT = click.IntRange(min=1)  # every count option: images, batches, steps, samples, chunks, sessions


class Fractions(click.ParamType):
    """Comma-separated fractions, each in (0, 1], at least one: checked where the option is parsed."""

    name = "fractions"

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            out = [float(v) for v in str(value).split(",") if v.strip()]
        except ValueError:
            self.fail(f"takes comma-separated numbers in (0, 1]; got {value!r}", param, ctx)
        if not out or any(not 0 < f <= 1 for f in out):
            self.fail(f"takes comma-separated numbers in (0, 1], at least one; got {value!r}", param, ctx)
        return out


FRACTIONS = Fractions()
DATA_ROOT_HELP = "NSD (or synthetic) root; default $RIDGE_DECODE_DATA, else the manifest's data_root_default."
WEIGHTS_ROOT_HELP = "Default $RIDGE_DECODE_WEIGHTS, else weights/ under the data root (or beside own data)."
FEATURES_DIR_HELP = "Default: the source's feature cache (<data root>/features, or <stem>_features/ beside own data)."


LABEL_HELP = ("Name of this data in output folders and report titles (default: subjNN for an NSD subject, the "
              "file's stem for --input, the trials table's stem for --betas).")


def _label(ctx, param, value):
    """``--label``, checked where it is parsed: a name, never a path (``layout.check_label``)."""
    # deferred: `ridge-decode --help` imports no stage
    from ..errors import InputError
    from ..runtime.layout import check_label

    if value is None:
        return None
    try:
        return check_label(value)
    except InputError as exc:
        raise click.BadParameter(str(exc).replace("--label must", "must"), ctx, param) from None


def source_options(exclude=(), kinds=None, lazy: bool = False):
    """Add the options of every kind of source (``sources.KINDS``) and ``--label`` to a command.

    The command then receives ``source``, opened by ``sources.open_source`` (the one place that reads these
    options), or, with ``lazy``, ``source_values`` and ``label`` to open itself. ``exclude`` drops option names the
    command does not take; ``kinds`` limits the kinds ("own": every kind but the NSD default).
    """
    # deferred: `ridge-decode --help` imports no stage
    from ..sources import KINDS, OWN_KINDS, option_flag

    kinds = OWN_KINDS if kinds == "own" else kinds
    chosen = [KINDS[k] for k in (kinds or KINDS)]
    options = [o for cls in chosen for o in SOURCE_OPTIONS[cls.KIND] if o.name not in exclude]
    names = [o.name for o in options]

    def decorate(command):
        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            values = {n: kwargs.pop(n) for n in names}
            label = kwargs.pop("label")
            if lazy:
                return command(*args, source_values=values, label=label, **kwargs)
            # deferred: `ridge-decode --help` imports no stage
            from ..sources import open_source

            return command(*args, source=open_source(values, label=label, kinds=kinds), **kwargs)

        for o in reversed(options):
            kind = SUBJECT if o.type is int else click.Path()
            wrapper = click.option(option_flag(o.name), o.name, type=kind, default=None, multiple=o.multiple,
                                   help=o.help)(wrapper)
        return click.option("--label", default=None, callback=_label, help=LABEL_HELP)(wrapper)

    return decorate


def parse_ints(text: str, option: str | None = None, least: int | None = None) -> list[int]:
    """``"1,2"`` -> ``[1, 2]``, a usage error naming ``option`` otherwise (or if a value is below ``least``)."""
    hint = f"'{option}'" if option else None
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}", param_hint=hint) from None
    if least is not None and any(v < least for v in values):
        raise click.BadParameter(f"expected integers >= {least}, got {text!r}", param_hint=hint)
    return values


def parse_alphas(text):
    """``--alphas``: ``'a,b,c'`` or ``'lo:hi:n'`` (powers of ten); None stays None (the stage takes the default grid,
    ``ridge.resolve_alphas``)."""
    if text is None:
        return None
    try:
        if ":" in text:  # lo:hi:n as powers of ten
            lo, hi, n = text.split(":")
            if int(n) < 1:
                raise ValueError
            with np.errstate(over="ignore"):
                alphas = np.logspace(float(lo), float(hi), int(n))
        else:
            alphas = np.array([float(a) for a in text.split(",")])
    except ValueError:
        raise click.BadParameter(f"expected 'a,b,c' or 'lo:hi:n' (log10, n >= 1); got {text!r}",
                                 param_hint="'--alphas'") from None
    bad = alphas[~(np.isfinite(alphas) & (alphas > 0))]
    if len(bad):
        raise click.BadParameter(f"expected finite positive regularisations; {text!r} gives {bad[:3].tolist()}",
                                 param_hint="'--alphas'")
    return alphas


DEBUG_ENV, LOGS_ENV = "RIDGE_DECODE_DEBUG", "RIDGE_DECODE_LOGS"


def crash_log(exc: BaseException) -> Path:
    """Write the full traceback of an unexpected error (with the command and the Python) to a new log file under
    ``$RIDGE_DECODE_LOGS`` (default ``<temp>/ridge_decode-logs``); returns its path."""
    folder = Path(os.environ.get(LOGS_ENV) or Path(tempfile.gettempdir()) / "ridge_decode-logs")
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = folder / f"error-{stamp}-{os.getpid()}.log"
    path.write_text(f"command: {' '.join(sys.argv)}\npython: {sys.version.split()[0]} on {platform.platform()}\n\n"
                    + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    return path


class Interrupted(KeyboardInterrupt):
    """SIGTERM (what SLURM sends at a time limit, or ``scancel``), raised in the main thread as Ctrl-C is, so that
    every ``with`` and ``finally`` on the way out runs: locks are released, staged work stays resumable."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _on_sigterm(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one interruption: the clean-up is not itself interrupted
    raise Interrupted(signum)


def this_command() -> str:
    """The command line of this process, as a user would type it again."""
    prog = Path(sys.argv[0])
    head = ("python -m ridge_decode.cli" if prog.name == "__main__.py" else
            f"python {sys.argv[0]}" if prog.suffix == ".py" else prog.name)
    return " ".join([head, *map(shlex.quote, sys.argv[1:])])


def _close_progress_bars() -> None:
    """Close every tqdm bar still open (an interrupted loop leaves its bar open)."""
    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()


def interrupted_line(ctx, exc: KeyboardInterrupt) -> tuple[str, int]:
    """The one line an interrupted command ends with, and its exit status (128 + the signal, as a shell's)."""
    signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
    name = signal.Signals(signum).name
    command = ctx.invoked_subcommand or ctx.info_name
    return (f"{command} interrupted by {name}: what it finished is kept and its output folder's lock released; "
            f"the same command resumes it: {this_command()}", 128 + signum)


class Group(click.Group):
    """A click group that prints a :class:`~ridge_decode.errors.RidgeDecodeError` as one line (exit 1), and a bad
    option value as a usage error (exit 2).

    Any other exception is a bug: it is never shown to a user as a raw traceback, and never hidden either. The
    message names the error and a log file that holds the full traceback, to be sent with a report;
    ``$RIDGE_DECODE_DEBUG=1`` lets the traceback through instead.
    """

    def invoke(self, ctx):
        # deferred: `ridge-decode --help` imports no stage
        from ..errors import InputError, RidgeDecodeError, for_command_line

        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            line, status = interrupted_line(ctx, exc)
            _close_progress_bars()  # a bar left open would redraw itself after the line, on the same line
            click.echo(line, err=True)
            raise click.exceptions.Exit(status) from None
        except InputError as exc:  # raised in Python's words: the parameter becomes its flag
            raise click.UsageError(for_command_line(str(exc), getattr(exc, "param", None)), ctx) from exc
        except RidgeDecodeError as exc:
            raise click.ClickException(for_command_line(str(exc))) from exc
        except (click.exceptions.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except PermissionError as exc:  # the user's files, not a bug: say which
            raise click.ClickException(f"permission denied: {exc.filename or exc}: this user cannot "
                                       f"{'write' if 'write' in str(exc).lower() else 'read or write'} it; change "
                                       "its permissions, or run as a user who can") from exc
        except Exception as exc:
            # deferred: `ridge-decode --help` imports no stage
            from ..runtime.machine import full_disk_error, io_error

            # the machine's faults met where no stage expected them: a full disk, a read-only file system
            fault = full_disk_error(exc) or (io_error(exc, exc.filename or "", "output") if
                                             isinstance(exc, OSError) and exc.filename else None)
            if fault is not None:
                raise click.ClickException(str(fault)) from exc
            if os.environ.get(DEBUG_ENV):
                raise
            log = crash_log(exc)
            first = (str(exc).splitlines() or [""])[0][:200]
            raise click.ClickException(
                f"unexpected error ({type(exc).__name__}: {first}). This is a bug in ridge_decode: the full traceback "
                f"is in {log}; please report it to the ridge_decode developers with that file ({DEBUG_ENV}=1 shows "
                "the traceback here)") from exc
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


@click.group(cls=Group)
@click.version_option(package_name="ridge_decode")
def main():
    """ridge_decode: reconstruct seen images from fMRI with ridge regression."""
