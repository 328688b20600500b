"""`python scripts/transfer.py --help`: the same as `ridge-decode transfer`."""

from ridge_decode.cli import main

if __name__ == "__main__":
    main(["transfer", *__import__("sys").argv[1:]])
