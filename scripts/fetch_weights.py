"""`python scripts/fetch_weights.py --help`: the same as `ridge-decode fetch-weights`."""

from ridge_decode.cli import main

if __name__ == "__main__":
    main(["fetch-weights", *__import__("sys").argv[1:]])
