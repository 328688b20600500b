"""`python scripts/predict.py --help`: the same as `ridge-decode predict`."""

from ridge_decode.cli import main

if __name__ == "__main__":
    main(["predict", *__import__("sys").argv[1:]])
