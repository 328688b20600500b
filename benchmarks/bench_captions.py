"""Caption reading for ``clip_text`` at COCO's size: parsed once for an extraction, against once per batch.

    python benchmarks/bench_captions.py --json bench_captions.json [--n-captions 591753] [--batch-size 64]

Writes a data root with only the caption inputs at COCO's sizes (``nsd_stim_info_merged.csv`` with 73,000 rows,
``captions_train2017.json`` with 591,753 captions and ``captions_val2017.json`` with 25,014, as in COCO 2017),
then reads the captions of all 73,000 ids in batches, as ``extract-features --features clip_text`` does: with
one ``nsd.Captions`` (the files parsed once) and, for the first ``--sample-batches`` batches, with a fresh parse
per batch (how the package read them before), projected to every batch. Prints a table and writes JSON.
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from pathlib import Path

import click
import numpy as np

N_IMAGES = 73_000
COCO_VAL_CAPTIONS = 25_014


def _write_root(root: Path, n_captions: int) -> None:
    from ridge_decode.sources.manifest import entry_path

    info = entry_path("stim_info", root)
    info.parent.mkdir(parents=True, exist_ok=True)
    with open(info, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["", "cocoId", "cocoSplit"])
        for i in range(N_IMAGES):
            w.writerow([i, 100_000 + i, "val2017" if i % 10 == 0 else "train2017"])
    rng = np.random.default_rng(0)
    for key, n in (("captions_train", n_captions), ("captions_val", COCO_VAL_CAPTIONS)):
        ids = 100_000 + rng.integers(0, N_IMAGES, n)
        anns = [{"image_id": int(i), "id": k, "caption": f"A photo of thing number {k} on a table."}
                for k, i in enumerate(ids)]
        path = entry_path(key, root)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"images": [], "annotations": anns}))


@click.command()
@click.option("--n-captions", default=591_753, show_default=True, help="Captions in the train file (COCO 2017's).")
@click.option("--batch-size", default=64, show_default=True)
@click.option("--sample-batches", default=5, show_default=True, help="Batches timed with a parse per batch.")
@click.option("--json", "json_path", default="bench_captions.json", show_default=True)
def main(n_captions, batch_size, sample_batches, json_path):
    """Time reading every image's captions, parsed once and parsed per batch."""
    from ridge_decode.runtime.io import versions, write_json
    from ridge_decode.sources.nsd import Captions, read_captions

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _write_root(root, n_captions)
        size_mb = sum(p.stat().st_size for p in root.rglob("*.json")) / 1e6
        batches = [np.arange(a, min(a + batch_size, N_IMAGES)) for a in range(0, N_IMAGES, batch_size)]
        t0 = time.perf_counter()
        captions = Captions(root)
        n_read = sum(len(captions.read(b)) for b in batches)
        once = time.perf_counter() - t0
        t0 = time.perf_counter()
        for b in batches[:sample_batches]:
            read_captions(b, root)
        per_batch = (time.perf_counter() - t0) / sample_batches
    rows = {"parsed once (nsd.Captions)": once, "parsed per batch (projected)": per_batch * len(batches)}
    print(f"{n_read} images in {len(batches)} batches of {batch_size}; caption files {size_mb:.0f} MB")
    print(f"| {'method':<32} | {'seconds':>9} |\n|{'-' * 34}|{'-' * 11}|")
    for name, sec in rows.items():
        print(f"| {name:<32} | {sec:>9.1f} |")
    print(f"ratio: {rows['parsed per batch (projected)'] / once:.0f}x")
    write_json(json_path, {"n_images": n_read, "batch_size": batch_size, "n_batches": len(batches),
                           "caption_files_mb": size_mb, "n_train_captions": n_captions,
                           "seconds_parsed_once": once, "seconds_per_batch_parse": per_batch,
                           "seconds_parsed_per_batch_projected": per_batch * len(batches), "versions": versions()})


if __name__ == "__main__":
    main()
