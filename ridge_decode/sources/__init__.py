"""Where a run's data comes from: an NSD root, your own HDF5 file, or NIfTI betas with a mask.

``open_source`` is the one place that reads the source options of a command and opens the :class:`Source` that
the stages take; a fit records ``source.spec()``, which ``open_source`` reopens. A new format is one module with
one ``Source`` subclass, one line in ``KINDS`` and its options' flags and help in ``cli/source_options.py``: they
become options of every command that reads data.
"""

from __future__ import annotations

from ..errors import DataError, InputError
from ..runtime.layout import identity_differences
from .base import Source, Stimuli, SubjectData
from .hdf5 import HDF5Source
from .nifti import NiftiSource
from .nsd import NSDSource

KINDS: dict[str, type[Source]] = {cls.KIND: cls for cls in (NSDSource, HDF5Source, NiftiSource)}
OWN_KINDS = tuple(k for k, cls in KINDS.items() if cls.KEY)  # the kinds a key option selects: not the NSD default


def option_flag(name: str) -> str:
    """``data_root`` -> ``--data-root``."""
    return "--" + name.replace("_", "-")


def open_source(values: dict, label: str | None = None, kinds=None) -> Source:
    """The source that the parsed option ``values`` ({option name: value or None}) describe.

    The kind is the one whose key option (``--input``, ``--betas``) is given, else the default kind (an NSD root).
    Options of two kinds, or of a kind whose key option is missing, are an ``InputError`` naming them.
    ``kinds`` limits the kinds a command accepts (default: all).
    """
    allowed = {k: KINDS[k] for k in (kinds or KINDS)}
    given = {k: v for k, v in values.items() if v not in (None, (), [])}
    keyed = [cls for cls in allowed.values() if cls.KEY and cls.KEY in given]
    if len(keyed) > 1:
        raise InputError(f"{' and '.join(option_flag(c.KEY) for c in keyed)} are two sources of data: give one")
    chosen = keyed[0] if keyed else next((c for c in allowed.values() if c.KEY is None), None)
    if chosen is None:
        keys = " or ".join(option_flag(c.KEY) for c in allowed.values())
        raise InputError(f"no data given: pass {keys}")
    own = set(chosen.OPTIONS)
    stray = [n for n in given if n not in own and any(n in c.OPTIONS for c in KINDS.values())]
    if stray:
        owner = {o: c for c in KINDS.values() for o in c.OPTIONS}
        what = ", ".join(f"{option_flag(n)} (with {option_flag(owner[n].KEY) if owner[n].KEY else 'an NSD root'})"
                         for n in stray)
        chosen_by = option_flag(chosen.KEY) if chosen.KEY else "an NSD root (no --input or --betas)"
        raise InputError(f"{what} cannot be used with {chosen_by}: options of two kinds of data were given")
    return chosen.from_options(label=label, **{o: values.get(o) for o in chosen.OPTIONS})


def reopen(described: dict, where: str = "a fit's summary") -> Source:
    """The source of a summary's ``source`` entry (``Source.describe()``), checked to be the one recorded: the same
    kind, label and images (a moved or replaced data folder is an error naming both)."""
    source = open_source(described["spec"], label=described.get("label"))
    recorded = described.get("identity") or {}
    differ = identity_differences(recorded, source.identity())
    if differ:
        raise DataError(f"{where} records {recorded.get('text') or recorded.get('label')} at {described['spec']}; "
                        f"what is there now is {source} ({', '.join(differ)} differ): the data moved or changed. "
                        "Give the reference's data options explicitly, or fit the reference again")
    return source


__all__ = ["KINDS", "OWN_KINDS", "HDF5Source", "NSDSource", "NiftiSource", "Source", "Stimuli",
           "SubjectData", "open_source", "option_flag", "reopen"]
