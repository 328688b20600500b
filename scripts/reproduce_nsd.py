"""`python scripts/reproduce_nsd.py --help`: the same as `ridge-decode reproduce`."""

from ridge_decode.cli import main

if __name__ == "__main__":
    main(["reproduce", *__import__("sys").argv[1:]])
