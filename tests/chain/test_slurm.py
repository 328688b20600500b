"""The chain on a real one-node SLURM cluster (``make test-slurm``; deselected from ``make test``).

The fixture installs Debian's ``slurm-wlm`` and ``munge`` where they are missing (root and apt-get; otherwise the
test is skipped with the reason), writes a ``slurm.conf`` in a temporary folder, starts ``munged``, ``slurmctld``
and ``slurmd`` on localhost, and stops each by its pid at the end.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slurm

FAMILIES, FIT_FAMILIES = ["pixels", "autokl"], ["pixels", "autokl"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _install():
    if shutil.which("slurmctld") and shutil.which("munged"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("slurm-wlm and munge are not installed, and installing them needs root and apt-get")
    res = subprocess.run(["apt-get", "install", "-y", "-q", "slurm-wlm", "munge"], capture_output=True, text=True,
                         env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if res.returncode != 0:
        pytest.skip(f"apt-get install slurm-wlm munge failed: {res.stderr.strip()[-300:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A one-node SLURM on localhost; yields the environment that reaches it."""
    _install()
    d = tmp_path_factory.mktemp("slurm")
    host = socket.gethostname().split(".")[0]
    (d / "munge").mkdir()
    (d / "munge.key").write_bytes(os.urandom(1024))
    (d / "munge.key").chmod(0o600)
    conf = d / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=ridgedecode", f"SlurmctldHost={host}", "SlurmUser=root", "SlurmdUser=root",
        "AuthType=auth/munge", f"AuthInfo=socket={d}/munge/munge.socket",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "SchedulerType=sched/builtin",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core", "ReturnToService=2", "MpiDefault=none",
        "JobAcctGatherType=jobacct_gather/none", "AccountingStorageType=accounting_storage/none",
        f"StateSaveLocation={d}/state", f"SlurmdSpoolDir={d}/spool", f"SlurmctldPidFile={d}/slurmctld.pid",
        f"SlurmdPidFile={d}/slurmd.pid", f"SlurmctldLogFile={d}/slurmctld.log", f"SlurmdLogFile={d}/slurmd.log",
        f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}", "MinJobAge=300",
        f"NodeName={host} CPUs={os.cpu_count()} State=UNKNOWN",
        f"PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP", ""]))
    (d / "state").mkdir()
    (d / "spool").mkdir()
    env = {**os.environ, "SLURM_CONF": str(conf)}
    pid_files = [d / "munge" / "munged.pid", d / "slurmctld.pid", d / "slurmd.pid"]
    commands = [["munged", "-f", f"--socket={d}/munge/munge.socket", f"--key-file={d}/munge.key",
                 f"--log-file={d}/munge/munged.log", f"--pid-file={pid_files[0]}", f"--seed-file={d}/munge/seed"],
                ["slurmctld", "-f", str(conf)], ["slurmd", "-f", str(conf)]]
    try:
        for cmd in commands:
            res = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if res.returncode != 0:
                pytest.skip(f"{cmd[0]} did not start: {res.stderr.strip()[-300:]}")
        for _ in range(100):
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True).stdout
            if out.strip() == "idle":
                break
            time.sleep(0.2)
        else:
            pytest.skip(f"the node did not become idle: {out!r}; see {d}/slurmd.log")
        yield env
    finally:
        for pid_file in reversed(pid_files):
            if pid_file.exists():
                try:
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
                except (ProcessLookupError, ValueError):
                    pass


def _queue(env) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%j %i %T"], env=env, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def _wait_empty(env, timeout=150):
    t0 = time.time()
    while _queue(env):
        assert time.time() - t0 < timeout, f"jobs still queued after {timeout} s: {_queue(env)}"
        time.sleep(0.5)


def _request(base: Path, root: Path, weights: Path, **kw):
    from ridge_decode.chain.cluster import SlurmRequest

    return SlurmRequest(data_root=root, subjects=[1, 2], families=FAMILIES, fit_families=FIT_FAMILIES, extract_shards=2,
                        decode_shards=2, weights_root=weights, out=base / "outputs", recon=base / "recon",
                        evaluation=base / "eval", run_dir=base / "run", resources="none", **kw)


@pytest.mark.slow  # starts subprocesses
def test_chain_on_slurm_equals_one_machine_after_a_cancelled_task(cluster, synthetic_root, tiny_weights, tmp_path,
                                                                  monkeypatch):
    from threadpoolctl import threadpool_limits

    from ridge_decode.chain.cluster import run_locally, submit
    from ridge_decode.cli import main
    from ridge_decode.features import FeatureStore
    from ridge_decode.results import Predictions
    from ridge_decode.runtime import layout

    # one BLAS / torch thread in both runs, so that the two runs are the same computation bit for bit
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    for k, v in cluster.items():
        monkeypatch.setenv(k, v)
    roots = {}
    for name in ("local", "slurm"):
        roots[name] = tmp_path / name / "root"
        shutil.copytree(synthetic_root, roots[name], ignore=shutil.ignore_patterns("ridge_decode_cache", "features"))

    # the single-machine reference: the plan's commands, here, one after another
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            plan = submit(_request(tmp_path / "local", roots["local"], tiny_weights, dry_run=True), echo=lambda s: None)
            run_locally(plan, lambda args: main(args, standalone_mode=False))
    finally:
        torch.set_num_threads(threads)

    # on SLURM: submit, cancel one extraction task while it runs, let the dependents be cancelled, resubmit
    req = _request(tmp_path / "slurm", roots["slurm"], tiny_weights)
    printed = []
    jobs = {j["name"]: j for j in json.loads(submit(req, echo=printed.append).read_text())["jobs"]}
    assert all(jobs[n]["id"] for n in jobs) and any("--dependency=afterok:" in p for p in printed)
    target = f"{jobs['extract']['id']}_1"
    for _ in range(600):
        if any(line.split()[1] == target and line.split()[2] == "RUNNING" for line in _queue(cluster)):
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"extraction task {target} was never seen running: {_queue(cluster)}")
    subprocess.run(["scancel", target], env=cluster, check=True)
    _wait_empty(cluster)
    store = FeatureStore(roots["slurm"] / "features")
    assert not any(store.exists(f) for f in FAMILIES)  # the merge, and all after it, were cancelled
    assert not (tmp_path / "slurm" / "eval" / "mean" / layout.METRICS_JSON).exists()

    printed.clear()
    jobs = {j["name"]: j for j in json.loads(submit(req, echo=printed.append).read_text())["jobs"]}
    assert jobs["extract"]["id"] and jobs["extract"]["tasks_done"] == [0]  # only the cancelled task is resubmitted
    assert any(p.startswith("sbatch") and "--array=1 " in p for p in printed)
    _wait_empty(cluster)
    logs = sorted((tmp_path / "slurm" / "run" / "logs").glob("*"))
    failed = [p.name for p in logs if "failed with exit" in p.read_text()]
    assert (tmp_path / "slurm" / "eval" / "mean" / layout.METRICS_JSON).exists(), (failed, printed)

    # the same outputs as the single machine: features, predictions, reconstructions, metrics
    local_store = FeatureStore(roots["local"] / "features")
    for f in FAMILIES:
        ids = local_store.ids(f)
        np.testing.assert_array_equal(store.ids(f), ids)
        np.testing.assert_array_equal(store.read(f, ids), local_store.read(f, ids))
    for s in (1, 2):
        a = Predictions.load(layout.subject_dir(tmp_path / "local" / "outputs", s))
        b = Predictions.load(layout.subject_dir(tmp_path / "slurm" / "outputs", s))
        for g in FIT_FAMILIES:
            np.testing.assert_array_equal(a.pred[g], b.pred[g])
        rec_a, rec_b = (layout.subject_dir(tmp_path / n / "recon", s) for n in ("local", "slurm"))
        pngs = sorted(p.name for p in rec_a.glob("0*.png"))
        assert pngs and pngs == sorted(p.name for p in rec_b.glob("0*.png"))
        assert all((rec_a / n).read_bytes() == (rec_b / n).read_bytes() for n in pngs)
        ev = [json.loads((layout.subject_dir(tmp_path / n / "eval", s) / layout.METRICS_JSON).read_text())
              for n in ("local", "slurm")]
        assert ev[0]["metrics"] == ev[1]["metrics"] and ev[0]["embedding"] == ev[1]["embedding"]

    # submitting a third time finds everything complete and submits nothing
    printed.clear()
    jobs = json.loads(submit(req, echo=printed.append).read_text())["jobs"]
    assert all(j["done"] and j["id"] is None for j in jobs) and not any(p.startswith("sbatch") for p in printed)
