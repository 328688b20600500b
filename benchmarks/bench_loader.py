"""Time and peak memory of the NSD loader at NSD scale (40 sessions x 750 trials, ~15,700 voxels).

    python scripts/simulate.py --size nsd --subjects 1 --out data/synthetic_nsd     # ~3 GB, once
    python benchmarks/bench_loader.py --data-root data/synthetic_nsd --json bench_loader.json

Each measurement runs in its own process, so peak RSS (ru_maxrss) is the loader's alone: first a load that
builds the per-subject cache, then a load served from it. Prints a markdown table and writes JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import click

CHILD = """
import json, sys, time
from ridge_decode.runtime.io import peak_rss_mb
from ridge_decode.sources.nsd import load_subject
t0 = time.perf_counter()
d = load_subject({subject}, {root!r}, sessions={sessions}, cache_dir={cache!r}, progress=False)
print(json.dumps({{"seconds": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb(),
                  "n_train": len(d.train_ids), "n_test": len(d.test_ids), "n_voxels": d.n_voxels}}))
"""


def _run(**kw) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD.format(**kw)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@click.command()
@click.option("--data-root", required=True, type=click.Path(exists=True))
@click.option("--subject", default=1, show_default=True)
@click.option("--sessions", default=None, type=int)
@click.option("--json", "json_path", default="bench_loader.json", show_default=True)
def main(data_root, subject, sessions, json_path):
    """Measure the loader's uncached and cached load."""
    with tempfile.TemporaryDirectory() as cache:
        kw = dict(subject=subject, root=str(data_root), sessions=sessions, cache=cache)
        rows = {"uncached": _run(**kw), "cached": _run(**kw)}
    r = rows["uncached"]
    print(f"subject {subject}: {r['n_train']} train, {r['n_test']} test images, {r['n_voxels']} voxels")
    print("| load | seconds | peak RSS (MB) |\n|---|---|---|")
    for name, m in rows.items():
        print(f"| {name} | {m['seconds']:.1f} | {m['peak_rss_mb']:.0f} |")
    Path(json_path).write_text(json.dumps({"config": {"data_root": str(data_root), "subject": subject,
                                                      "sessions": sessions}, "loads": rows}, indent=2))


if __name__ == "__main__":
    main()
