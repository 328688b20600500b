"""Command-line entry points: ``ridge-decode COMMAND`` and the thin ``scripts/*.py`` wrappers.

This is the one place where the stages (data, features, ridge, decode, evaluate, transfer) are wired together;
one module per command. Heavy imports happen inside the commands so that ``--help`` is instant.
"""

from . import data, decode, demo, evaluate, features, fit, maps, predict, reproduce, slurm, transfer  # noqa: F401,E501
from ._group import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
