"""`python scripts/fetch_nsd.py --help`: the same as `ridge-decode fetch-nsd`."""

from ridge_decode.cli import main

if __name__ == "__main__":
    main(["fetch-nsd", *__import__("sys").argv[1:]])
