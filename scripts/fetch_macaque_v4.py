"""`python scripts/fetch_macaque_v4.py --help`: the same as `ridge-decode fetch-macaque-v4`."""

from ridge_decode.cli import main

if __name__ == "__main__":
    main(["fetch-macaque-v4", *__import__("sys").argv[1:]])
