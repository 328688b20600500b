"""The whole chain on SLURM: dependent job arrays, each job script generated here from one list of commands.

Steps, each a command of this package's CLI (the job scripts in ``<run dir>/jobs/`` show them):

| job | array over | after |
|---|---|---|
| ``extract`` | shards of the sorted image ids | - |
| ``merge`` | - | extract |
| ``fit`` | subjects | merge |
| ``decode-sNN`` | shards of subject NN's test images | fit |
| ``evaluate-sNN`` | - | decode-sNN |
| ``aggregate`` | - | every evaluate |

Every job depends on the ones it needs with ``afterok`` and ``--kill-on-invalid-dep=yes``: a task that fails
cancels its dependents, and its log ends with a line naming it. Every job is submitted with ``--requeue``, and every
step resumes (extraction by batch, the fit by chunk, decoding by image), so a pre-empted task continues where it
stopped. Submitting again skips every job whose outputs are complete and whose inputs were not redone. The plan and
the job ids go to ``<run dir>/plan.json``. Resource requests are estimates for NSD, not measurements.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import layout
from .errors import InputError
from .io import atomic_path, write_json

# Estimates for one NSD subject (not measured on NSD): cpus, memory, time. "none" requests nothing (a test cluster).
RESOURCES = {
    "nsd": {"extract": ("4", "24G", "04:00:00"), "merge": ("1", "8G", "01:00:00"), "fit": ("8", "64G", "04:00:00"),
            "decode": ("4", "24G", "08:00:00"), "evaluate": ("4", "16G", "01:00:00"),
            "aggregate": ("1", "2G", "00:10:00")},
    "none": {},
}
GPU_STEPS = ("extract", "decode")  # the steps that run networks on --device


@dataclass
class SlurmRequest:
    """What to submit (see ``slurm --help``); relative paths are relative to the folder it is submitted from."""

    data_root: str | Path = "data/synthetic"
    subjects: list[int] = field(default_factory=lambda: [1, 2])
    families: list[str] = field(default_factory=lambda: ["pixels"])
    targets: list[str] = field(default_factory=lambda: ["pixels"])
    extract_shards: int = 4
    decode_shards: int = 2
    decoder: str = "weight-free"
    device: str = "cpu"
    weights_root: str | Path | None = None
    features_dir: str | Path | None = None
    out: str | Path = layout.OUTPUTS
    recon: str | Path = layout.RECON
    evaluation: str | Path = layout.EVAL
    run_dir: str | Path = "slurm"
    resources: str = "nsd"
    partition: str | None = None
    python: str = sys.executable
    dry_run: bool = False


@dataclass
class Job:
    """One sbatch submission: a CLI command (``{task}`` is the array index), its array and its dependencies."""

    name: str
    args: list[str]
    array: list[int] | None = None
    after: list[str] = field(default_factory=list)
    step: str = ""
    done: bool = False
    id: str | None = None
    tasks_done: list[int] = field(default_factory=list)  # array tasks whose outputs are complete: not resubmitted


def plan(req: SlurmRequest) -> list[Job]:
    """The chain's jobs in submission order; each marked ``done`` if its outputs are complete. Paths are kept as
    given: every job runs in the folder it was submitted from (``--chdir``), so relative ones mean the same there."""
    from .features import FeatureStore
    from .sources import NSDSource

    if req.extract_shards < 1 or req.decode_shards < 1:
        raise InputError("--extract-shards and --decode-shards must be at least 1")
    if req.resources not in RESOURCES:
        raise InputError(f"--resources must be one of {sorted(RESOURCES)}; got {req.resources!r}")
    root, feats = str(req.data_root), str(layout.features_dir(req.features_dir, Path(req.data_root) / layout.FEATURES))
    weights = ["--weights-root", str(req.weights_root)] if req.weights_root else []
    common = ["--data-root", root, *weights]
    fams, n = ",".join(req.families), req.extract_shards
    store = FeatureStore(feats, provenance=NSDSource(req.data_root, None).provenance())
    merged = all(store.complete(f) for f in req.families)
    who = {s: NSDSource(req.data_root, s).identity() for s in req.subjects}  # what a finished step must be of
    shards_done = [i for i in range(n) if merged or all(store.shard_path(f, (i, n)).exists() for f in req.families)]
    jobs = [
        Job("extract", ["extract-features", "--features", fams, *common, "--features-dir", feats, "--device",
                        req.device, "--shard", f"{{task}}/{n}"], list(range(n)), step="extract",
            done=len(shards_done) == n, tasks_done=shards_done),
        Job("merge", ["extract-features", "--features", fams, "--merge", *common, "--features-dir", feats],
            after=["extract"], step="merge", done=merged),
    ]
    out, recon, ev = Path(req.out), Path(req.recon), Path(req.evaluation)
    jobs.append(Job("fit", ["fit", "--subject", "{task}", "--data-root", root, "--targets", ",".join(req.targets),
                            "--features-dir", feats, "--out", str(out)], list(req.subjects), after=["merge"],
                    step="fit", done=all(layout.fit_done(layout.subject_dir(out, s), who[s], req.targets)
                                         for s in req.subjects)))
    evals = []
    for s in req.subjects:
        fit_dir, rec, e = layout.subject_dir(out, s), layout.subject_dir(recon, s), layout.subject_dir(ev, s)
        jobs.append(Job(f"decode-s{s:02d}", ["decode", "--subject", str(s), *common, "--model-dir", str(fit_dir),
                                             "--features-dir", feats, "--decoder", req.decoder, "--device",
                                             req.device, "--shard", f"{{task}}/{req.decode_shards}", "--out",
                                             str(rec)],
                        list(range(req.decode_shards)), after=["fit"], step="decode",
                        tasks_done=_decoded(fit_dir, rec, req.decode_shards, who[s])))
        jobs[-1].done = len(jobs[-1].tasks_done) == req.decode_shards
        jobs.append(Job(f"evaluate-s{s:02d}", ["evaluate", "--subject", str(s), *common, "--recon-dir", str(rec),
                                               "--model-dir", str(fit_dir), "--features-dir", feats, "--out",
                                               str(e)],
                        after=[f"decode-s{s:02d}"], step="evaluate", done=layout.evaluate_done(e, who[s])))
        evals.append(str(e))
    jobs.append(Job("aggregate", ["evaluate", "--aggregate", *evals, "--out", str(ev / "mean")],
                    after=[j.name for j in jobs if j.step == "evaluate"], step="aggregate",
                    done=(ev / "mean" / layout.METRICS).exists()))
    by = {j.name: j for j in jobs}
    for j in jobs:  # a job (or a task) is skipped only if it is complete and nothing it reads is redone
        if not all(by[a].done for a in j.after):
            j.done, j.tasks_done = False, []
    return jobs


def _decoded(fit_dir: Path, recon: Path, shards: int, identity: dict) -> list[int]:
    """The decoding shards whose images are all there, decoded from the subject's own predictions."""
    from .features.extract import shard_ids

    if not (fit_dir / layout.PREDICTIONS).exists():
        return []
    pred = layout.Predictions.load(fit_dir)
    if layout.identity_differences(pred.source, identity):
        return []
    config = layout.read_json(recon / layout.DECODE_CONFIG)
    if config is not None and layout.identity_differences(config.get("source"), identity):
        return []
    return [i for i in range(shards)
            if all((recon / layout.recon_name(k)).exists() for k in shard_ids(pred.ids, (i, shards)))]


def script(job: Job) -> str:
    """The job script of ``job``: the CLI command, the array index in place of ``{task}``, ``$RIDGE_DECODE_DEVICE``
    overriding ``--device``, and a line naming the task when it fails."""
    words = []
    for prev, a in zip(["", *job.args[:-1]], job.args, strict=True):
        if prev == "--device":  # the node's environment may override it: the same script runs on CPU partitions
            words.append(f'"${{RIDGE_DECODE_DEVICE:-{a}}}"')
        elif a == "{task}":
            words.append('"$SLURM_ARRAY_TASK_ID"')
        else:
            words.append(shlex.quote(a).replace("{task}", "'\"$SLURM_ARRAY_TASK_ID\"'"))
    command = " ".join(words)
    return "\n".join([
        "#!/bin/bash",
        f"# ridge_decode slurm: job {job.name}" + (f", one task per {job.array}" if job.array else ""),
        "# Generated by `ridge-decode slurm`; the command is the one a single machine runs.",
        "set -euo pipefail",
        'trap \'rc=$?; if [ $rc -ne 0 ]; then echo "ridge_decode slurm: job $SLURM_JOB_NAME task '
        '${SLURM_ARRAY_TASK_ID:-none} (job ${SLURM_JOB_ID:-?}) failed with exit $rc" >&2; fi\' EXIT',
        'PY=${RD_PYTHON:-python}',
        f'"$PY" -m ridge_decode.cli {command}',
        "",
    ])


def sbatch_line(job: Job, req: SlurmRequest, script_path: Path, logs: Path, ids: dict) -> list[str]:
    """The sbatch command of ``job`` (dependencies on the ids of the jobs it waits for that were submitted)."""
    line = ["sbatch", "--parsable", f"--job-name=rd-{job.name}", "--requeue", "--open-mode=append",
            "--kill-on-invalid-dep=yes", f"--chdir={Path.cwd()}", f"--export=ALL,RD_PYTHON={req.python}",
            f"--output={logs}/%x-%A_%a.out" if job.array else f"--output={logs}/%x-%j.out"]
    if job.array:
        line.append("--array=" + ",".join(str(t) for t in job.array if t not in job.tasks_done))
    waits = [ids[a] for a in job.after if ids.get(a)]
    if waits:
        line.append("--dependency=afterok:" + ":".join(waits))
    res = RESOURCES[req.resources].get(job.step)
    if res:
        line += [f"--cpus-per-task={res[0]}", f"--mem={res[1]}", f"--time={res[2]}"]
    if job.step in GPU_STEPS and req.device.startswith("cuda"):
        line.append("--gres=gpu:1")
    if req.partition:
        line.append(f"--partition={req.partition}")
    return line + [str(script_path)]


def graph(jobs: list[Job]) -> str:
    """The dependency graph as text, one job per line."""
    lines = [f"{'job':<14}{'tasks':<22}{'after':<30}state"]
    for j in jobs:
        tasks = ",".join(str(t) + ("(done)" if t in j.tasks_done else "") for t in j.array) if j.array else "-"
        lines.append(f"{j.name:<14}{tasks:<22}{(', '.join(j.after) or '-'):<30}"
                     f"{'complete, skipped' if j.done else (j.id or 'to submit')}")
    return "\n".join(lines)


def submit(req: SlurmRequest, echo=print) -> Path:
    """Write the job scripts, submit every job not complete (or only print them with ``dry_run``), write the plan."""
    run = Path(req.run_dir).resolve()
    jobs, logs = plan(req), run / "logs"
    (run / "jobs").mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)  # SLURM opens a job's log before the job runs: it must exist
    ids: dict[str, str] = {}
    lines = {}
    for j in jobs:
        path = _write_script(run / "jobs", j)
        if j.done:
            continue
        line = sbatch_line(j, req, path, logs, ids)
        lines[j.name] = line
        echo(" ".join(shlex.quote(a) for a in line))
        if not req.dry_run:
            res = subprocess.run(line, capture_output=True, text=True)
            if res.returncode != 0:
                raise InputError(f"sbatch failed for job {j.name} (exit {res.returncode}): {res.stderr.strip()}")
            j.id = ids[j.name] = res.stdout.strip().split(";")[0]
        else:
            ids[j.name] = f"<{j.name}>"
    echo(graph(jobs))
    write_json(run / "plan.json", {"request": {k: str(v) if isinstance(v, Path) else v
                                               for k, v in asdict(req).items()},
                                   "jobs": [asdict(j) | {"sbatch": lines.get(j.name)} for j in jobs],
                                   "dry_run": req.dry_run})
    return run / "plan.json"


def run_locally(plan_path: str | Path, run) -> None:
    """Run a plan's commands here, one after another, every array task in order: the single-machine reference.

    ``run(args)`` runs one command line, e.g. ``lambda a: ridge_decode.cli.main(a, standalone_mode=False)``.
    """
    for j in json.loads(Path(plan_path).read_text())["jobs"]:
        for task in j["array"] or [None]:
            run([a.replace("{task}", str(task)) for a in j["args"]])


EXAMPLE = SlurmRequest(data_root="data/nsd", subjects=[1, 2, 5, 7], extract_shards=8, decode_shards=4,
                       families=["ipadapter_plus", "autokl", "clip_text", "clip_layers"],
                       targets=["ipadapter_plus", "autokl", "clip_text"], decoder="diffusion", device="cuda")


def write_examples(folder: str | Path) -> list[Path]:
    """The job scripts of ``EXAMPLE`` (NSD subjects 1, 2, 5, 7 on GPU nodes) into ``folder``: examples/slurm/."""
    return [_write_script(folder, j) for j in plan(EXAMPLE)]


def _write_script(folder: Path, job: Job) -> Path:
    """``<folder>/<job name>.sbatch``, executable."""
    path = Path(folder) / f"{job.name}.sbatch"
    with atomic_path(path) as tmp:
        tmp.write_text(script(job))
    path.chmod(0o755)
    return path
