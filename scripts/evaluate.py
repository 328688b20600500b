"""`python scripts/evaluate.py --help`: the same as `ridge-decode evaluate`."""

from ridge_decode.cli import main

if __name__ == "__main__":
    main(["evaluate", *__import__("sys").argv[1:]])
