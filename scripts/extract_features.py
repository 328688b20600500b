"""`python scripts/extract_features.py --help`: the same as `ridge-decode extract-features`."""

from ridge_decode.cli import main

if __name__ == "__main__":
    main(["extract-features", *__import__("sys").argv[1:]])
