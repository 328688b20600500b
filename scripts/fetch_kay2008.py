"""`python scripts/fetch_kay2008.py --help`: the same as `ridge-decode fetch-kay2008`."""

from ridge_decode.cli import main

if __name__ == "__main__":
    main(["fetch-kay2008", *__import__("sys").argv[1:]])
