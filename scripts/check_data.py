"""`python scripts/check_data.py --help`: the same as `ridge-decode check-data`."""

from ridge_decode.cli import main

if __name__ == "__main__":
    main(["check-data", *__import__("sys").argv[1:]])
