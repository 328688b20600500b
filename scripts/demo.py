"""`python scripts/demo.py --help`: the same as `ridge-decode demo`."""

from ridge_decode.cli import main

if __name__ == "__main__":
    main(["demo", *__import__("sys").argv[1:]])
