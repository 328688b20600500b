"""``python -m ridge_decode.cli COMMAND``."""

from . import main

main()
