"""fetch-weights against a local hub (tests/hub_server.py): the real command, huggingface_hub's real downloads,
then the fetched folders loaded by the package's own loaders; the interrupted download; every error, one line."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hub_server import Hub

from ridge_decode.cli import main
from ridge_decode.pipeline.check import check_weights
from ridge_decode.sources.manifest import load_manifest
from ridge_decode.weights.fetch_weights import RECORD, plan

REAL_MANIFEST = Path(__file__).resolve().parents[2] / "data_manifest.yaml"
HUB_KEYS = ("sd15", "ipadapter_plus", "ipadapter_image_encoder", "clip_vit_l14")
FETCHED = ",".join(HUB_KEYS + ("efficientnet_b1",))


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def serve_tiny(hub: Hub, weights: Path, out: Path, manifest_sha: bool = False, size_scale: int = 1) -> Path:
    """A copy of the real manifest whose repositories (same names, same pinned commits) and release files are the
    tiny weights under ``weights``, served by ``hub``; returns its path."""
    raw = yaml.safe_load(REAL_MANIFEST.read_text())
    for spec in raw["entries"].values():
        if spec["kind"] != "weights":
            continue
        if "hub" in spec:
            folder = weights / spec["hub"]["local_dir"]
            hub.add_repo(spec["hub"]["repo"], spec["hub"]["revision"], folder)
            spec["files"] = {name: {"size_bytes": (folder / name).stat().st_size * size_scale,
                                    "sha256": sha256(folder / name) if manifest_sha else None}
                             for name in spec["files"]}
        else:
            name = Path(spec["path"]).name
            spec["url"] = f"{hub.url}/files/{name}"
            if spec["path"].endswith("bac287d4.pth"):  # the one release file served (31 MB): efficientnet_b1
                data = (weights / spec["path"]).read_bytes()
                hub.add_file(name, data)
                spec["size_bytes"], spec["hash_prefix"] = len(data), hashlib.sha256(data).hexdigest()[:8]
        spec["size_exact"] = True
    path = out / "manifest.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
def local_hub(tiny_all_weights, tmp_path, monkeypatch):
    """(hub, weights root to fetch into); HF_ENDPOINT and the manifest point at the hub."""
    import huggingface_hub.file_download as fd

    monkeypatch.setattr(fd.time, "sleep", lambda s: None)  # huggingface_hub waits 1 s before each resume try
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with Hub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("RIDGE_DECODE_MANIFEST", str(serve_tiny(hub, tiny_all_weights, tmp_path)))
        yield hub, tmp_path / "weights"


def fetch(root: Path, only: str = FETCHED, *extra):
    return CliRunner().invoke(main, ["fetch-weights", "--weights-root", str(root), "--only", only, *extra])


def one_line_error(res) -> str:
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    return res.output.strip().splitlines()[-1]


def test_real_manifest_dry_run_lists_every_file_and_pin():
    res = CliRunner().invoke(main, ["fetch-weights", "--dry-run", "--weights-root", "/nonexistent/w"])
    assert res.exit_code == 0, res.output
    manifest = load_manifest(REAL_MANIFEST)
    weights = manifest.of_kind("weights")
    assert len(weights) == 8
    for e in weights:
        assert (e.hub or e.url), e.key
        assert e.license and f"    license: {e.license}; not gated" in res.output
        if e.hub:
            assert re.fullmatch(r"[0-9a-f]{40}", e.hub["revision"]), e.key
            assert f"{e.key}: {e.hub['repo']} at commit {e.hub['revision']}" in res.output
            for name in e.files:
                assert f"{e.hub['local_dir']}/{name}" in res.output and e.hub["revision"] in res.output
        else:
            assert e.url.startswith("https://") and e.path in res.output
    total = sum(f.size_bytes or 0 for f in plan([e.key for e in weights], manifest))
    assert re.search(r"total ~9\.\d GB in 22 files", res.output) and 9e9 < total < 1e10
    assert not Path("/nonexistent/w").exists()


def test_manifest_fetches_exactly_the_files_the_loaders_read(tiny_all_weights):
    """The tiny models are saved in the layout the loaders read: the real manifest lists those files, no more."""
    for e in load_manifest(REAL_MANIFEST).of_kind("weights"):
        if e.hub:
            folder = tiny_all_weights / e.hub["local_dir"]
            sub = Path(e.path).relative_to(e.hub["local_dir"])
            written = {str(p.relative_to(folder)) for p in (folder / sub).rglob("*") if p.is_file()} \
                if (folder / sub).is_dir() else {str(sub)}
            assert set(e.files) == written, e.key


def test_fetch_from_local_hub_then_load(local_hub, tiny_all_weights):
    hub, root = local_hub
    res = fetch(root)
    assert res.exit_code == 0, res.output
    for wf in plan(FETCHED.split(",")):
        assert sha256(root / wf.relpath) == sha256(tiny_all_weights / wf.relpath), wf.relpath
    recorded = json.loads((root / RECORD).read_text())["files"]
    assert recorded["stable-diffusion-v1-5/unet/config.json"]["origin"].endswith(
        "@451f4fe16113bff5a5d2269ed5ad43b0592e9a14")
    assert not list(root.rglob("*.part")) and not list(root.rglob("*.incomplete"))
    assert all(r.status == "present" for r in check_weights(root, verify=True, keys=set(FETCHED.split(","))))
    # what came from the hub loads through the package's loaders, as real weights do
    from ridge_decode.decode.diffusion import load_pipeline
    from ridge_decode.evaluation.image_metrics import networks
    from ridge_decode.features.clip_layers import ClipLayers
    from ridge_decode.features.ipadapter import IPAdapterPlus
    from ridge_decode.sources.manifest import entry_path

    assert load_pipeline(root).unet.encoder_hid_proj is not None
    assert ClipLayers(root).shape[0] > 0 and IPAdapterPlus(root) is not None
    effnet = next(n for n in networks() if n.key == "efficientnet_b1")
    assert callable(effnet.load(entry_path("efficientnet_b1", root)))
    # a second run finds everything there: no file is asked for again
    before = len(hub.log)
    res = fetch(root)
    assert res.exit_code == 0, res.output
    assert hub.log[before:] == []


def test_cut_download_resumes_on_the_next_run(local_hub, tiny_all_weights):
    hub, root = local_hub
    unet = "/stable-diffusion-v1-5/stable-diffusion-v1-5/resolve/451f4fe16113bff5a5d2269ed5ad43b0592e9a14/" \
           "unet/diffusion_pytorch_model.safetensors"
    hub.faults = {unet: "cut", "/files/efficientnet_b1_rwightman-bac287d4.pth": "cut"}
    line = one_line_error(fetch(root, "sd15"))
    assert "stopped at" in line and "run the same command again to resume" in line
    assert not (root / "stable-diffusion-v1-5/unet/diffusion_pytorch_model.safetensors").exists()
    line = one_line_error(fetch(root, "efficientnet_b1"))
    assert "stopped at" in line and not (root / "torchvision/efficientnet_b1_rwightman-bac287d4.pth").exists()
    half = (root / "torchvision/efficientnet_b1_rwightman-bac287d4.pth.part").stat().st_size
    assert half > 0
    hub.faults = {}
    before = len(hub.log)
    assert fetch(root, "sd15,efficientnet_b1").exit_code == 0
    ranges = [(p, r) for m, p, r in hub.log[before:] if m == "GET" and r]
    assert (unet, None) not in ranges and any(p == unet for p, _ in ranges)
    assert ("/files/efficientnet_b1_rwightman-bac287d4.pth", f"bytes={half}-") in ranges
    for rel in ("stable-diffusion-v1-5/unet/diffusion_pytorch_model.safetensors",
                "torchvision/efficientnet_b1_rwightman-bac287d4.pth"):
        assert sha256(root / rel) == sha256(tiny_all_weights / rel)


def test_errors_are_one_line(local_hub, tmp_path, monkeypatch):
    hub, root = local_hub
    unet = "/stable-diffusion-v1-5/stable-diffusion-v1-5/resolve/451f4fe16113bff5a5d2269ed5ad43b0592e9a14/" \
           "unet/config.json"
    hub.faults = {unet: "404"}
    assert "has no file unet/config.json" in one_line_error(fetch(root, "sd15"))
    hub.faults = {}
    hub.gated = {"h94/IP-Adapter"}
    line = one_line_error(fetch(root, "ipadapter_plus"))
    assert "is gated" in line and "no token is set" in line and "HF_TOKEN" in line
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")  # read from the environment, as huggingface_hub documents
    assert fetch(tmp_path / "w_token", "ipadapter_plus").exit_code == 0
    monkeypatch.delenv("HF_TOKEN")
    hub.gated = set()
    # a wrong checksum: the hub's digest is the true one, the bytes are not; nothing stays under the final name
    ckpt = "/h94/IP-Adapter/resolve/018e402774aeeddd60609b4ecdb7e298259dc729/models/ip-adapter-plus_sd15.bin"
    hub.faults = {ckpt: "corrupt", "/files/efficientnet_b1_rwightman-bac287d4.pth": "corrupt"}
    line = one_line_error(fetch(root, "ipadapter_plus"))
    assert "sha256" in line and "the hub's ETag" in line and "was removed" in line
    assert not (root / "ip-adapter/models/ip-adapter-plus_sd15.bin").exists()
    line = one_line_error(fetch(root, "efficientnet_b1"))
    assert "hash prefix" in line and not (root / "torchvision/efficientnet_b1_rwightman-bac287d4.pth").exists()
    hub.faults = {}
    # a file that was fetched, then damaged: check-data names the entry, both digests and the fix
    assert fetch(root, "ipadapter_plus").exit_code == 0
    ckpt_file = root / "ip-adapter/models/ip-adapter-plus_sd15.bin"
    data = bytearray(ckpt_file.read_bytes())
    data[-1] ^= 0xFF
    ckpt_file.write_bytes(bytes(data))
    res = CliRunner().invoke(main, ["check-data", "--weights", "--verify", "--weights-root", str(root),
                                    "--data-root", str(tmp_path)])
    row = next(line for line in res.output.splitlines() if line.startswith("ipadapter_plus"))
    assert "BAD" in row and "sha256" in row and "expected" in row and "fetch-weights --only ipadapter_plus" in row
    # the hub cannot be reached
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    line = one_line_error(fetch(tmp_path / "w2", "clip_vit_l14"))
    assert "cannot reach http://127.0.0.1:9" in line
    # offline, with files to fetch
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "HF_HUB_OFFLINE is set" in one_line_error(fetch(tmp_path / "w3", "clip_vit_l14"))


def test_no_room_for_the_planned_total(tiny_all_weights, tmp_path, monkeypatch):
    with Hub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("RIDGE_DECODE_MANIFEST", str(serve_tiny(hub, tiny_all_weights, tmp_path, size_scale=10**12)))
        line = one_line_error(fetch(tmp_path / "w", "sd15"))
    assert "MB free" in line and "fetching 12 weight files" in line and "--weights-root" in line
    assert [m for m, _, _ in hub.log] == []  # stopped before the first request


def test_a_file_copied_by_hand_is_checked_not_fetched_again(local_hub, tiny_all_weights):
    hub, root = local_hub
    rel = "ip-adapter/models/ip-adapter-plus_sd15.bin"
    (root / rel).parent.mkdir(parents=True)
    (root / rel).write_bytes((tiny_all_weights / rel).read_bytes())
    assert fetch(root, "ipadapter_plus").exit_code == 0
    assert [m for m, p, _ in hub.log if p.endswith("ip-adapter-plus_sd15.bin")] == ["HEAD"]  # its digest, not its bytes
    assert json.loads((root / RECORD).read_text())["files"][rel]["sha256"] == sha256(tiny_all_weights / rel)


def test_an_html_page_is_not_a_weight(local_hub):
    """A release file's host that answers with an HTML page (status 200): refused by the package's downloader,
    nothing kept, and the rerun is not blocked."""
    hub, root = local_hub
    url = "/files/efficientnet_b1_rwightman-bac287d4.pth"
    hub.faults = {url: "html"}
    line = one_line_error(fetch(root, "efficientnet_b1"))
    assert "entry efficientnet_b1" in line and "served an HTML page" in line and "nothing was kept" in line
    assert list(root.rglob("efficientnet_b1_rwightman-bac287d4.pth*")) == []
    hub.faults = {}
    assert fetch(root, "efficientnet_b1").exit_code == 0
