"""The ridge engine's parts: one host/device boundary that counts every crossing, the overlapped chunk loop, no
hidden global state, parameters that survive ``load``, and one solver shared by ``OneStageRidge`` and ``RidgeGCV``."""

import ast
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ridge_decode.ridge import OneStageRidge, RidgeGCV, core, loop

REPO = Path(__file__).resolve().parents[2]
torch = pytest.importorskip("torch")


def _data(n=60, p=40, t=(30, 7), n_test=9, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n + n_test, p)).astype(np.float32)
    W = {f"g{k}": rng.standard_normal((p, w)) for k, w in enumerate(t)}
    Y = {g: (X @ w * 0.3 + rng.standard_normal((len(X), w.shape[1]))).astype(np.float32) for g, w in W.items()}
    return X[:n], {g: y[:n] for g, y in Y.items()}, X[n:]


class _Counting:
    """Counts the host/device conversions torch sees: every array that crosses, whoever converts it."""

    def __init__(self, monkeypatch):
        import himalaya.backend.torch  # noqa: F401  (its import makes two constants with torch.tensor)

        self.calls = {"from_numpy": 0, "as_tensor": 0, "tensor": 0, "numpy": 0, "cpu": 0}
        for name in ("from_numpy", "as_tensor", "tensor"):
            real = getattr(torch, name)
            monkeypatch.setattr(torch, name, self._wrap(name, real))
        for name in ("numpy", "cpu"):
            real = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self._wrap(name, real))

    def _wrap(self, name, real):
        def counted(*args, **kwargs):
            self.calls[name] += 1
            return real(*args, **kwargs)
        return counted


def _planned_fit(n, p, widths, chunk, n_alphas):
    chunks = [min(chunk, w - a) for w in widths for a in range(0, w, chunk)]
    return {
        ("in", "voxels"): (1, 4 * n * p),
        ("in", "alpha grid"): (1, 8 * n_alphas),
        ("in", "target chunk"): (len(chunks), 4 * n * sum(chunks)),
        ("out", "standardised voxels"): (1, 4 * n * p),
        ("out", "voxel means"): (1, 8 * p),
        ("out", "voxel scales"): (1, 8 * p),
        ("out", "eigenvalues"): (1, 4 * n),
        ("out", "basis"): (1, 4 * n * n),
        ("out", "chunk y_mean"): (len(chunks), 8 * sum(chunks)),
        ("out", "chunk y_std"): (len(chunks), 8 * sum(chunks)),
        ("out", "chunk cv_scores"): (len(chunks), 4 * n_alphas * sum(chunks)),
        ("out", "chunk coef"): (len(chunks), 4 * n * sum(chunks)),
        ("out", "chunk alphas"): (len(chunks), 8 * sum(chunks)),
    }


def _planned_predict(n, p, n_test, widths, chunk):
    chunks = [min(chunk, w - a) for w in widths for a in range(0, w, chunk)]
    return {
        ("in", "voxel means"): (1, 8 * p),
        ("in", "voxel scales"): (1, 8 * p),
        ("in", "test voxels"): (1, 4 * n_test * p),
        ("in", "standardised training voxels"): (1, 4 * n * p),
        ("in", "basis"): (1, 4 * n * n),
        ("in", "coef chunk"): (len(chunks), 4 * n * sum(chunks)),
        ("in", "target means"): (len(widths), 4 * sum(widths)),
        ("out", "predictions"): (len(widths), 4 * n_test * sum(widths)),
    }


@pytest.mark.parametrize("path", [False, True], ids=["in memory", "model file"])
def test_a_fit_and_a_predict_cross_exactly_the_planned_arrays(tmp_path, monkeypatch, path):
    """On the torch (CPU) backend, through the adapter: the planned crossings, counted by call and byte, and no
    conversion by anyone else (torch's own conversion functions are counted too)."""
    X, Y, X_test = _data()
    n, p = X.shape
    widths, chunk, alphas = [y.shape[1] for y in Y.values()], 8, np.logspace(-1, 4, 6)
    counting = _Counting(monkeypatch)
    model = OneStageRidge(alphas=alphas, device="torch", chunk_size=chunk,
                          path=tmp_path / "m.h5" if path else None).fit(X, Y)
    assert model.crossings_ == _planned_fit(n, p, widths, chunk, len(alphas))
    ins = sum(c for (d, _), (c, _) in model.crossings_.items() if d == "in")
    outs = sum(c for (d, _), (c, _) in model.crossings_.items() if d == "out")
    assert counting.calls == {"from_numpy": ins, "as_tensor": 0, "tensor": 0, "numpy": outs, "cpu": outs}
    for k in counting.calls:
        counting.calls[k] = 0
    model.predict(X_test)
    assert model.crossings_ == _planned_predict(n, p, len(X_test), widths, chunk)
    ins = sum(c for (d, _), (c, _) in model.crossings_.items() if d == "in")
    outs = sum(c for (d, _), (c, _) in model.crossings_.items() if d == "out")
    assert counting.calls == {"from_numpy": ins, "as_tensor": 0, "tensor": 0, "numpy": outs, "cpu": outs}


def test_nothing_in_ridge_converts_arrays_but_the_device_module():
    """The one boundary, checked in the source: no module of ridge/ but device.py converts between host and
    device itself (backend.py hands a host array to torch's eigh and back, host to host, on the numpy backend)."""
    forbidden = {"numpy", "cpu", "from_numpy", "as_tensor", "to_numpy", "asarray_like", "to_cpu", "to_gpu"}
    for path in (REPO / "ridge_decode" / "ridge").glob("*.py"):
        if path.name in ("device.py", "backend.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in forbidden:
                base = ast.unparse(node.value)
                assert base in ("np",) and node.attr != "numpy", f"{path.name}:{node.lineno}: {ast.unparse(node)}"
            if isinstance(node, ast.Attribute) and node.attr == "asarray":
                assert ast.unparse(node.value) == "np", f"{path.name}:{node.lineno}: {ast.unparse(node)}"


def test_the_torch_backend_gives_the_numpy_backends_model():
    X, Y, X_test = _data()
    a = OneStageRidge(alphas=np.logspace(-1, 4, 6), device="numpy", chunk_size=8).fit(X, Y)
    b = OneStageRidge(alphas=np.logspace(-1, 4, 6), device="torch", chunk_size=8).fit(X, Y)
    pa, pb = a.predict(X_test), b.predict(X_test)
    for g in Y:
        np.testing.assert_array_equal(a.alphas_[g], b.alphas_[g])  # a clear choice on this planted problem
        np.testing.assert_allclose(pb[g], pa[g], rtol=0, atol=64 * np.finfo(np.float32).eps * np.abs(pa[g]).max())


def test_himalayas_global_backend_is_left_as_it_was():
    from himalaya.backend import get_backend, set_backend

    X, Y, X_test = _data()
    set_backend("numpy")
    for solver in ("gcv", "himalaya"):
        model = OneStageRidge(alphas=np.logspace(-1, 4, 6), device="torch", solver=solver, solver_params={"cv": 3})
        model.fit(X, Y).predict(X_test)
        assert get_backend().name == "numpy", solver
    RidgeGCV(device="torch").fit(X, Y["g0"]).predict(X_test)
    assert get_backend().name == "numpy"


def test_load_restores_every_parameter(tmp_path):
    X, Y, _ = _data()
    params = dict(alphas=[0.5, 5.0, 50.0], alpha_per="group", device="torch", chunk_size=5, eigh_dtype="float64")
    OneStageRidge(**params, path=tmp_path / "m.h5").fit(X, Y, overlap=False)
    loaded = OneStageRidge.load(tmp_path / "m.h5").get_params()
    defaults = OneStageRidge().get_params()
    for name, value in defaults.items():  # every parameter of __init__, a new one included, is saved and restored
        if name == "path":
            continue
        expected = params.get(name, value)
        assert loaded[name] == (list(expected) if isinstance(expected, (list, np.ndarray)) else expected), name


def test_one_stage_ridge_and_ridge_gcv_share_one_core(monkeypatch):
    X, Y, _ = _data()
    calls = []
    for name in ("standardize", "eigendecompose", "gcv_scores", "eigen_coef"):
        real = getattr(core, name)
        monkeypatch.setattr(core, name, lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k))
    OneStageRidge(chunk_size=100).fit(X, {"y": Y["g0"]})
    first = list(calls)
    RidgeGCV(chunk_size=100).fit(X, Y["g0"])
    # one chunk each, through the same functions of the core
    assert first == ["standardize", "eigendecompose", "gcv_scores", "eigen_coef"] and calls == first + first


# ------------------------------------------------------------------------------------------ the loop
def test_the_overlapped_loop_keeps_order_and_hands_errors_on():
    chunks = loop.plan({"a": 10, "b": 7}, 3)
    written = []
    times = loop.run(chunks, read=lambda c: c.start, compute=lambda c, x: x * 2, write=lambda c, y: written.append(
        (c, y)))
    assert [c for c, _ in written] == chunks and [y for _, y in written] == [2 * c.start for c in chunks]
    assert times.chunks == len(chunks)
    written.clear()

    def read(c):
        if c.k == 2 and c.group == "a":
            raise KeyboardInterrupt("interrupted while reading")
        return c.start

    with pytest.raises(KeyboardInterrupt):
        loop.run(chunks, read=read, compute=lambda c, x: x, write=lambda c, y: written.append(c))
    assert written == chunks[:2]  # what was computed before the failure is written: the resume contract
    written.clear()

    def write(c, y):
        if c.k == 1:
            raise OSError("disk gone")
        written.append(c)

    with pytest.raises(OSError, match="disk gone"):
        loop.run(chunks, read=lambda c: c.start, compute=lambda c, x: x, write=write)
    assert written == chunks[:1]


@pytest.mark.parametrize("alpha_per", ["target", "group"])
@pytest.mark.slow  # starts subprocesses
def test_sigkill_while_a_write_is_in_flight_resumes_bit_for_bit(tmp_path, alpha_per):
    """A fit killed (SIGKILL) while its writer thread holds a chunk resumes to the model of an uninterrupted fit."""
    import shutil

    import h5py

    code = textwrap.dedent(f"""
        import sys, time
        import numpy as np
        sys.path[:0] = [{str(REPO / "tests")!r}, {str(REPO / "tests" / "ridge")!r}]
        from test_device import _data
        from ridge_decode.ridge import OneStageRidge, stores
        real = stores.HDF5Store.write_chunk
        def slow(self, *args):
            time.sleep(0.4)  # the write is in flight here
            real(self, *args)
            print("written", flush=True)
        stores.HDF5Store.write_chunk = slow
        X, Y, _ = _data()
        OneStageRidge(alpha_per={alpha_per!r}, chunk_size=4, path=sys.argv[1]).fit(X, Y)
    """)
    X, Y, X_test = _data()

    def fit(folder, **kw):
        return OneStageRidge(alpha_per=alpha_per, chunk_size=4, path=tmp_path / folder / "m.h5", **kw).fit(X, Y)

    class Stop(Exception):
        pass

    def first_read_fails(*a):
        raise Stop

    start = tmp_path / "start"
    with pytest.raises(Stop):  # leaves the eigendecomposition on disk, no chunk done: the shared starting point
        real = core.center
        core.center = first_read_fails
        try:
            fit("start")
        finally:
            core.center = real
    for folder in ("straight", "killed"):
        (tmp_path / folder).mkdir()
        shutil.copy(start / "m.h5.part", tmp_path / folder / "m.h5.part")
    straight = fit("straight")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": ""}
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "killed" / "m.h5")], stdout=subprocess.PIPE,
                            text=True, env=env)
    for _ in range(3):
        assert proc.stdout.readline().strip() == "written"
    os.kill(proc.pid, signal.SIGKILL)  # during the next write's sleep (or its first bytes)
    proc.wait()
    with h5py.File(tmp_path / "killed" / "m.h5.part") as f:
        stage = "score" if alpha_per == "group" else "solve"
        done = int(f[f"groups/g0/done_{stage}"][()].sum()) + int(f[f"groups/g1/done_{stage}"][()].sum())
    assert 3 <= done < 10
    resumed = fit("killed")
    assert resumed.runs_[-1]["chunks_done_before"] >= 3
    for g in Y:
        np.testing.assert_array_equal(resumed.dual_coef(g), straight.dual_coef(g))
        np.testing.assert_array_equal(resumed.alphas_[g], straight.alphas_[g])
        np.testing.assert_array_equal(resumed.predict(X_test)[g], straight.predict(X_test)[g])
