"""Data commands: simulate, check-data, fetch-nsd, fetch-weights, fetch-macaque-v4, fetch-kay2008."""

from __future__ import annotations

import sys
import time

import click

from ._group import COUNT, DATA_ROOT_HELP, SUBJECT, WEIGHTS_ROOT_HELP, decoder_choice, main, parse_ints, source_options


# ----------------------------------------------------------------------------------------------- simulate
@main.command()
@click.option("--out", default="data/synthetic", show_default=True, type=click.Path(file_okay=False))
@click.option("--size", type=click.Choice(["small", "nsd", "tiny"]), default="small", show_default=True,
              help="small: ~1,350 training images and a few thousand voxels; nsd: NSD's shapes, for benchmarks.")
@click.option("--subjects", default="1,2", show_default=True, help="Comma-separated subject numbers.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--sessions", type=COUNT, default=None, help="Override the number of sessions (750 trials each).")
@click.option("--betas-format", default="hdf5", show_default=True, help="hdf5, nifti or hdf5,nifti.")
@click.option("--image-size", default=128, show_default=True, type=COUNT, help="Stimulus size in pixels.")
@click.option("--preset", type=click.Choice(["nsd", "easy"]), default="nsd", show_default=True,
              help="nsd: as hard to decode as NSD (docs/data.md); easy: the strong-signal generator used by tests.")
def simulate(out, size, subjects, seed, sessions, betas_format, image_size, preset):
    """Write a synthetic subject in the NSD file layout, from real photographs and a known encoding model."""
    # deferred: `ridge-decode --help` imports no stage
    from ..simulation import simulate as run

    t0 = time.perf_counter()
    formats = tuple(f.strip() for f in betas_format.split(","))
    path = run(out, size=size, subjects=parse_ints(subjects, "--subjects", least=1), seed=seed, sessions=sessions,
               betas_formats=formats, image_size=image_size, preset=preset)
    click.echo(f"synthetic NSD layout written under {path} in {time.perf_counter() - t0:.1f} s")


# --------------------------------------------------------------------------------------------- check-data
@main.command("check-data")
@click.option("--data-root", type=click.Path(), default=None, help=DATA_ROOT_HELP)
@click.option("--subject", "subjects", default="1", show_default=True, help="Comma-separated NSD subjects.")
@source_options(kinds="own", lazy=True)
@click.option("--strict", is_flag=True, help="Enforce NSD's exact sizes (grids, voxels, sessions, 425 px).")
@click.option("--weights", is_flag=True, help="Let missing or bad model weights count toward the exit code.")
@click.option("--weights-root", type=click.Path(), default=None, help=WEIGHTS_ROOT_HELP)
@click.option("--verify", is_flag=True, help="Also compare each weight file's sha256 (reads every byte).")
@click.option("--digests", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Hold the weights to this record (another machine's fetched_weights.json), not the root's own.")
def check_data(data_root, subjects, source_values, label, strict, **weights_options):
    """Report each file as present, missing or bad; exit 0 only if every needed one is present. An NSD root is
    checked against the manifest; own data (--input, or --betas with --mask and --trials) by the one validation
    pass a fit runs."""
    # deferred: `ridge-decode --help` imports no stage
    from ..pipeline.check import check_data as run
    from ..pipeline.check import check_source, check_weights, format_table
    from ..sources import OWN_KINDS, open_source
    from ..sources.manifest import resolve_data_root, resolve_weights_root

    weights, weights_root = weights_options["weights"], weights_options["weights_root"]
    verify, digests = weights_options["verify"], weights_options["digests"]

    if any(v not in (None, ()) for v in source_values.values()):
        source = open_source(source_values, label, kinds=OWN_KINDS)
        results = check_source(source) + check_weights(resolve_weights_root(weights_root, source.root),
                                                       verify=verify, digests=digests)
        click.echo(f"data: {source}")
    else:
        root = resolve_data_root(data_root)
        results = run(root, parse_ints(subjects, "--subject", least=1), strict=strict)
        results += check_weights(resolve_weights_root(weights_root, root), verify=verify, digests=digests)
        click.echo(f"data root: {root}{'  (strict: NSD sizes enforced)' if strict else ''}")
    click.echo(format_table(results))
    failing = [r for r in results if r.status != "present" and (r.kind in ("nsd", "own") or
                                                                (weights and r.kind == "weights"))]
    sys.exit(1 if failing else 0)


# ---------------------------------------------------------------------------------------------- fetch-nsd
@main.command("fetch-nsd")
@click.option("--subject", type=SUBJECT, required=True, help="NSD subject number, 1..8.")
@click.option("--dest", type=click.Path(file_okay=False), default=None, help=DATA_ROOT_HELP)
@click.option("--sessions", type=COUNT, default=None, help="First N sessions only (default: all).")
@click.option("--betas-format", type=click.Choice(["hdf5", "nifti"]), default="hdf5", show_default=True)
@click.option("--source", default=None, help="Source root URL (default: the manifest's s3 bucket).")
@click.option("--dry-run", is_flag=True, help="List the files and sizes, fetch nothing.")
def fetch_nsd(subject, dest, sessions, betas_format, source, dry_run):
    """Download exactly the files one subject needs, resumably (NSD data agreement required)."""
    # deferred: `ridge-decode --help` imports no stage
    from ..sources.fetch_nsd import fetch, format_plan, plan
    from ..sources.manifest import resolve_data_root

    items = plan(subject, sessions, betas_format)
    click.echo(format_plan(items))
    if dry_run:
        return
    dest = resolve_data_root(dest)
    paths = fetch(items, dest, source)
    click.echo(f"{len(paths)} files under {dest}")


# ------------------------------------------------------------------------------------------ fetch-weights
@main.command("fetch-weights")
@click.option("--weights-root", type=click.Path(file_okay=False), default=None, help=WEIGHTS_ROOT_HELP)
@click.option("--data-root", type=click.Path(), default=None,
              help="Only to find the default weights root (<data root>/weights). " + DATA_ROOT_HELP)
@click.option("--only", default=None,
              help="Comma-separated manifest entries (e.g. sd15,alexnet); default: what the options below need.")
@click.option("--families", default="all", show_default=True,
              help="Feature families whose weights are fetched (comma-separated, all, or none).")
@click.option("--decoder", type=decoder_choice(), default="diffusion", show_default=True,
              help="The decoder whose weights are fetched.")
@click.option("--metrics/--no-metrics", default=True, show_default=True, help="The evaluation networks' weights.")
@click.option("--dry-run", is_flag=True, help="List each file, its size, license and the total; fetch nothing.")
def fetch_weights(weights_root, data_root, only, families, decoder, metrics, dry_run):
    """Download the model weights into the weights root: hub files at pinned commits, release files by URL, each
    checked against its digest; resumable (run again after a cut), and no half file under its final name."""
    # deferred: `ridge-decode --help` imports no stage
    from ..chain import weights_needed
    from ..features import REGISTRY
    from ..pipeline.check import check_weights, format_table
    from ..sources.manifest import resolve_weights_root
    from ..weights.fetch_weights import fetch, format_plan, plan

    names = list(REGISTRY) if families == "all" else [] if families == "none" else \
        [f.strip() for f in families.split(",") if f.strip()]
    keys = [k.strip() for k in only.split(",") if k.strip()] if only else weights_needed(names, decoder, metrics)
    files = plan(keys)
    if not files:
        click.echo("nothing to fetch: the families, decoder and metrics asked for load no weights")
        return
    root = resolve_weights_root(weights_root, data_root)
    click.echo(f"weights root: {root}")
    click.echo(format_plan(files))
    if dry_run:
        return
    t0 = time.perf_counter()
    fetch(files, root, echo=click.echo)
    results = check_weights(root, keys=set(keys))
    click.echo(f"\nfetched in {time.perf_counter() - t0:.1f} s; now under {root}:")
    click.echo(format_table(results))
    sys.exit(1 if any(r.status != "present" for r in results) else 0)


# ------------------------------------------------------------------------------------------ fetch-macaque-v4
@main.command("fetch-macaque-v4")
@click.option("--dest", type=click.Path(file_okay=False), default="data/macaque_v4", show_default=True,
              help="Folder for the session's files (kept where already there).")
@click.option("--session", default="201025", show_default=True,
              help="A test session of 1,200 natural images: 201025 (89 V4 neurons) or 210225 (55).")
@click.option("--hdf5", "hdf5_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the session as an own-data file for --input (the last 200 images held out).")
def fetch_macaque_v4(dest, session, hdf5_path):
    """Real neural data: macaque V4 responses to natural images (Cowley et al. 2023, GPL-3.0), from its public
    repository; then `fit --input FILE --families pixels` decodes them (docs/real_data.md)."""
    # deferred: `ridge-decode --help` imports no stage
    from ..sources import macaque_v4

    folder = macaque_v4.fetch(dest, session, echo=click.echo)
    click.echo(f"session {session}: {', '.join(macaque_v4.files(session))} in {folder}")
    if hdf5_path:
        from pathlib import Path

        from ..pipeline.common import writing

        with writing(Path(hdf5_path).parent, "--hdf5"):  # a read-only or full folder is one line naming it
            click.echo(f"written: {macaque_v4.to_hdf5(folder, hdf5_path, session)}")


# ------------------------------------------------------------------------------------------------ fetch-kay2008
@main.command("fetch-kay2008")
@click.option("--dest", type=click.Path(file_okay=False), default="data/kay2008", show_default=True,  # DEFAULT_DEST
              help="Folder for kay_images.npz (249 MB; kept where already there and matching its sha256).")
@click.option("--hdf5", "hdf5_path", type=click.Path(dir_okay=False), default=None,
              help="Also write it as an own-data file for --input (the paper's 1,750 / 120 split).")
@click.option("--rois", default=None,
              help="Comma-separated areas whose voxels the --hdf5 file keeps (V1, V2, V3, V3A, V3B, V4, LatOcc); "
                   "default: all 8,428 voxels, each labelled with its area.")
def fetch_kay2008(dest, hdf5_path, rois):
    """Real fMRI: Kay et al. (2008) "vim-1", 1,870 natural images and 8,428 voxels of V1-V4 and lateral occipital
    cortex, as Neuromatch Academy publishes it on OSF; checked against its size and sha256 (docs/real_data.md)."""
    # deferred: `ridge-decode --help` imports no stage
    from ..sources import kay2008

    path = kay2008.fetch(dest, echo=click.echo)
    click.echo(f"{path}: {kay2008.SIZE} bytes, sha256 {kay2008.SHA256[:12]}... as recorded")
    if hdf5_path:
        from pathlib import Path

        from ..pipeline.common import writing

        areas = [r.strip() for r in rois.split(",") if r.strip()] if rois else None
        with writing(Path(hdf5_path).parent, "--hdf5"):  # a read-only or full folder is one line naming it
            click.echo(f"written: {kay2008.to_hdf5(path, hdf5_path, rois=areas)}")
