"""The package's errors: what a user can fix is a ``RidgeDecodeError``; anything else is a bug, whose traceback the
command group writes to a log file that its one-line message names.

The command group (``cli/_group.py``) turns a ``RidgeDecodeError`` into one clear line and exit status 1, in one
place; library code raises these and never a click exception. Each subclass also derives from the built-in error
a caller would expect (a missing file is a ``FileNotFoundError``, a bad value a ``ValueError``), so code that
catches those keeps working.
"""

from __future__ import annotations


class RidgeDecodeError(Exception):
    """An error the user can fix: the message says what was expected, what was found, and what to do.

    Every error the package raises for bad input or data is one of its subclasses (a missing or malformed file, a
    bad argument or option, missing weights); a command prints it as one line. A wrong array names the argument,
    the shape or dtype expected, e.g. ``(n, p)`` float, and the one found. Catch ``RidgeDecodeError`` to handle
    them all.
    """


class DataError(RidgeDecodeError):
    """A data file (NSD, synthetic, own input, feature cache, a previous run's output) is missing or wrong."""


class DataFileError(DataError, FileNotFoundError):
    """A file declared in the manifest, or one a stage needs, is missing or unreadable; the message says which and
    how to get it."""


class DataFormatError(DataError, ValueError):
    """A file exists but its content is not what is declared (shape, dtype, key...)."""


class NoImagesError(DataError):
    """A source holds betas but not the seen images, and this step needs them (features, ground truth)."""


class MissingFeaturesError(DataError, KeyError):
    """Images are not in a feature family's cache file; the message names the file, the ids and the command."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class WeightsError(DataError):
    """Model weights are missing or unreadable; the message names the manifest entry and where to get them."""


class WeightsFileError(WeightsError, DataFileError):
    """Weights declared in the manifest are missing under the weights root."""


class WeightsFormatError(WeightsError, DataFormatError):
    """Weights exist but cannot be loaded as the model they should be."""


class InputError(RidgeDecodeError, ValueError):
    """An argument or option has a value the stage cannot use; the message names it, with what was expected."""


class ForeignFolderError(InputError):
    """An output folder holds something that is not a run of this command's kind written by ridge_decode (a lab's
    data, another command's run, one of a command's own inputs): it is refused untouched, before any work, with
    what is there (exit 2)."""


class ParameterError(InputError, TypeError):
    """An estimator's parameter has a value or type it cannot use (both a ``ValueError`` and a ``TypeError``, as
    scikit-learn's ``InvalidParameterError`` is); the message names it, what was expected and what was found.

    ``param`` is the Python name of the parameter (``"alphas"``), or None; the command line names its flag instead
    (``PARAMETER_FORMS``)."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


class InputTypeError(InputError, TypeError):
    """An input (X, y, targets) is of a type or dtype the estimator cannot read: the message names the input, the
    type found and the types accepted."""


class InputIndexError(InputError, IndexError):
    """An index or id outside what a file or array holds; the message names the file, the range and the index."""


class UnknownGroupError(InputError, KeyError):
    """A target group that the fitted model does not have; the message names it and the groups it has."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownEntryError(DataError, KeyError):
    """A name (a manifest entry, an image id) that a file or table does not hold; the message names it and where
    it was looked for."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class OutputError(RidgeDecodeError, OSError):
    """An output cannot be written or committed: the folder is in use by another run (its lock), the lock was lost,
    the disk is full, or the folder is read-only. The message names the path and what to do."""


class InternalError(RuntimeError):
    """A bug in ridge_decode, not the user's doing: deliberately not a ``RidgeDecodeError``, so that the command
    group writes its traceback to a log file and asks for a report."""


class IncompleteOutputError(InternalError):
    """A stage finished without writing every output it should commit: nothing was committed (the message names
    the folder and what is missing)."""


class FitInUseError(OutputError, BlockingIOError):
    """Another fit (a thread, a cross-validation fold, another process) is writing the same file-backed model
    ``path`` now; the message names the path and the fix (one ``path`` per fit, or ``path=None``)."""


class DeviceError(RidgeDecodeError):
    """The device or backend asked for is not on this machine (``--device cuda`` or ``--device torch_cuda`` with no
    GPU); the message names the option and what to use instead."""


# --------------------------------------------------------------------------- scikit-learn's NotFittedError
def _not_fitted_error():
    """``NotFittedError``: both this package's error and scikit-learn's (so ``except NotFittedError`` of either
    catches it; scikit-learn's is a ``ValueError`` and an ``AttributeError``). Made on first use: importing
    scikit-learn costs the command line a second it rarely needs."""
    from sklearn.exceptions import NotFittedError as SklearnNotFittedError

    class NotFittedError(RidgeDecodeError, SklearnNotFittedError):
        """An estimator used before ``fit``; the message names it and the call that fits it."""

    NotFittedError.__module__, NotFittedError.__qualname__ = __name__, "NotFittedError"  # pickles by name
    return NotFittedError


def __getattr__(name):
    if name == "NotFittedError":
        globals()[name] = value = _not_fitted_error()
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ------------------------------------------------------------------------ one parameter, two spellings
# The one place that translates between Python and the command line. A message raised in Python names the
# Python parameter (a ``ParameterError``'s ``param``, and the fixes below); the command group rewrites it for the
# command line with ``for_command_line`` (cli/_group.py), and the fit command its printed warnings.
FLAGS = {"alphas": "--alphas", "alpha_per": "--alpha-per", "device": "--device", "chunk_size": "--chunk-size",
         "solver": "--solver", "solver_params": "--cv"}
# (a fix as a message raised in Python writes it, as the command line writes it)
FIXES = {
    "alphas": ("alphas=np.logspace(-2, 10, 25)", "--alphas LOG10_MIN:LOG10_MAX:COUNT, e.g. --alphas -2:10:25"),
    "eigh_dtype": ("eigh_dtype='float64'", "a float64 eigendecomposition (no flag: OneStageRidge(eigh_dtype='float64') "
                                           "in Python)"),
}


def python_fix(param: str) -> str:
    """How a message raised in Python writes the fix through ``param`` (``FIXES``)."""
    return FIXES[param][0]


def for_command_line(message: str, param: str | None = None) -> str:
    """``message``, raised in Python, for the command line: each fix of ``FIXES`` in its flag form, and a leading
    Python parameter name (``param``) as its flag."""
    for python, flag in FIXES.values():
        message = message.replace(python, flag)
    if param in FLAGS and message.startswith(f"{param} "):
        message = FLAGS[param] + message[len(param):]
    return message
