"""The package's errors: what a user can fix is a ``RidgeDecodeError``; anything else is a bug, whose traceback the
command group writes to a log file that its one-line message names.

The command group (``cli/_group.py``) turns a ``RidgeDecodeError`` into one clear line and exit status 1, in one
place; library code raises these and never a click exception. Each subclass also derives from the built-in error
a caller would expect (a missing file is a ``FileNotFoundError``, a bad value a ``ValueError``), so code that
catches those keeps working.
"""

from __future__ import annotations


class RidgeDecodeError(Exception):
    """An error the user can fix: the message says what was expected, what was found, and what to do."""


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
    scikit-learn's ``InvalidParameterError`` is); the message names it, what was expected and what was found."""


class OutputError(RidgeDecodeError, OSError):
    """An output cannot be written or committed: the folder is in use by another run (its lock), the lock was lost,
    the disk is full, or the folder is read-only. The message names the path and what to do."""


class DeviceError(RidgeDecodeError):
    """The device or backend asked for is not on this machine (``--backend torch_cuda`` or ``--device cuda`` with no
    GPU); the message names the option and what to use instead."""
