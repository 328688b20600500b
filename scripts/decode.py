"""`python scripts/decode.py --help`: the same as `ridge-decode decode`."""

from ridge_decode.cli import main

if __name__ == "__main__":
    main(["decode", *__import__("sys").argv[1:]])
