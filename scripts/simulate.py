"""`python scripts/simulate.py --help`: the same as `ridge-decode simulate`."""

from ridge_decode.cli import main

if __name__ == "__main__":
    main(["simulate", *__import__("sys").argv[1:]])
