"""`python scripts/fit.py --help`: the same as `ridge-decode fit`."""

from ridge_decode.cli import main

if __name__ == "__main__":
    main(["fit", *__import__("sys").argv[1:]])
