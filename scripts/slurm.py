"""`python scripts/slurm.py --help`: the same as `ridge-decode slurm`."""

from ridge_decode.cli import main

if __name__ == "__main__":
    main(["slurm", *__import__("sys").argv[1:]])
