"""`python scripts/maps.py --help`: the same as `ridge-decode maps`."""

from ridge_decode.cli import main

if __name__ == "__main__":
    main(["maps", *__import__("sys").argv[1:]])
