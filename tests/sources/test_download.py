"""The package's one downloader (sources/download.py) against a loopback server (tests/hub_server.py): every
fetched file checked against its recorded size and sha256, written under a temporary name first; a damaged file
already there named and fetched again; a cut connection resumed; an HTML page with status 200 refused; a
read-only folder and a wrong digest one clear error. Then fetch-macaque-v4, which uses it, on the same faults."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from hub_server import Hub

from ridge_decode.cli import main
from ridge_decode.errors import DataFileError, OutputError
from ridge_decode.sources.download import DownloadError, fetch_file

REPO = Path(__file__).resolve().parents[2]
COPY = Path(os.environ.get("RIDGE_DECODE_V4_DIR") or REPO.parent / "shared" / "data" / "macaque_v4")
DATA = os.urandom(200_000)
DIGEST = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def hub():
    with Hub() as h:
        yield h


def get(hub, dest: Path, **kw) -> Path:
    url = hub.add_file("data.bin", DATA)
    return fetch_file(url, dest / "data.bin", size=len(DATA), sha256=DIGEST, progress=False, echo=lambda s: None,
                      **kw)


def test_a_file_arrives_whole_and_checked(hub, tmp_path):
    path = get(hub, tmp_path)
    assert path.read_bytes() == DATA and not (tmp_path / "data.bin.part").exists()
    n = len(hub.log)
    assert get(hub, tmp_path) == path and len(hub.log) == n  # matching: kept, nothing requested


@pytest.mark.parametrize("damage", ["truncated", "flipped", "html"])
def test_a_damaged_file_in_the_destination_is_named_and_fetched_again(hub, tmp_path, damage):
    path = tmp_path / "data.bin"
    path.write_bytes({"truncated": DATA[:1000], "flipped": DATA[:-1] + bytes([DATA[-1] ^ 1]),
                      "html": b"<html>moved</html>"}[damage])
    said = []
    url = hub.add_file("data.bin", DATA)
    fetch_file(url, path, size=len(DATA), sha256=DIGEST, progress=False, echo=said.append)
    assert path.read_bytes() == DATA
    assert len(said) == 1 and str(path) in said[0] and "damaged" in said[0]
    assert ("sha256" if damage == "flipped" else "expected 200000") in said[0]


def test_a_cut_connection_resumes_in_the_same_run(hub, tmp_path):
    hub.faults = {"/files/data.bin": "cut-once"}
    assert get(hub, tmp_path).read_bytes() == DATA
    gets = [r for m, p, r in hub.log if m == "GET"]
    assert gets == [None, f"bytes={len(DATA) // 2}-"]  # the second request asked for the rest only


def test_a_connection_cut_every_time_stops_then_resumes_on_the_next_run(hub, tmp_path):
    hub.faults = {"/files/data.bin": "cut"}
    with pytest.raises(DownloadError, match=r"stopped at 100000 of 200000 bytes.*run the same command again"):
        get(hub, tmp_path)
    assert not (tmp_path / "data.bin").exists()
    assert (tmp_path / "data.bin.part").stat().st_size == len(DATA) // 2  # kept for the resume
    hub.faults = {}
    assert get(hub, tmp_path).read_bytes() == DATA
    assert hub.log[-1][2] == f"bytes={len(DATA) // 2}-"


def test_a_server_that_ignores_the_range_restarts_the_file(hub, tmp_path):
    (tmp_path / "data.bin.part").write_bytes(DATA[:5000])
    hub.faults = {"/files/data.bin": "norange"}
    assert get(hub, tmp_path).read_bytes() == DATA  # not the part's 5000 bytes followed by the whole file


def test_a_part_of_another_file_is_not_trusted(hub, tmp_path):
    (tmp_path / "data.bin.part").write_bytes(b"x" * 1000)  # a prefix of something else: the digest finds it
    with pytest.raises(DownloadError, match=r"sha256 [0-9a-f]{64}; expected " + DIGEST + ".*was removed"):
        get(hub, tmp_path)
    assert not (tmp_path / "data.bin").exists() and not (tmp_path / "data.bin.part").exists()
    assert get(hub, tmp_path).read_bytes() == DATA  # the next run starts over


@pytest.mark.parametrize("fault", ["html", "html-octet"])
def test_an_html_page_with_status_200_is_not_data(hub, tmp_path, fault):
    hub.faults = {"/files/data.bin": fault}
    with pytest.raises(DownloadError, match="served an HTML page.*status 200.*nothing was kept"):
        get(hub, tmp_path)
    assert list(tmp_path.iterdir()) == []
    hub.faults = {}
    assert get(hub, tmp_path).read_bytes() == DATA  # the rerun is not blocked


def test_a_wrong_digest_is_refused_and_removed(hub, tmp_path):
    hub.faults = {"/files/data.bin": "corrupt"}
    with pytest.raises(DownloadError, match="sha256 .*expected .*the download was removed"):
        get(hub, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_http_errors_and_an_unreachable_server_name_the_url(hub, tmp_path):
    hub.faults = {"/files/data.bin": "404"}
    with pytest.raises(DownloadError, match=r"/files/data.bin: HTTP 404.*copy it by hand"):
        get(hub, tmp_path, hint="copy it by hand")
    with pytest.raises(DownloadError, match=r"cannot reach http://127.0.0.1:9/x"):
        fetch_file("http://127.0.0.1:9/x", tmp_path / "x", size=1, progress=False)
    assert isinstance(DownloadError("x"), DataFileError)  # a data error: one line, exit 1, never "a bug"


def _mount_tmpfs(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    if res.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip() or 'not root'}): the read-only test needs one")


def test_a_read_only_destination_is_one_clear_error(hub, tmp_path):
    where = tmp_path / "ro"
    _mount_tmpfs(where, "size=1m,ro")
    try:
        with pytest.raises(OutputError, match=r"--dest .*ro.*cannot write there \(Read-only file system\)"):
            get(hub, where)
        with pytest.raises(OutputError, match="Read-only file system"):
            get(hub, where / "sub")  # a folder it would have to make
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


# ------------------------------------------------------------------------------------------ fetch-macaque-v4
needs_copy = pytest.mark.skipif(not (COPY / "responses_201025.npy").exists(),
                                reason=f"no copy of the macaque V4 data at {COPY}")
V4 = {"responses_201025.npy": "responses_repeat_averaged/responses_201025.npy",
      "images_201025.zip": "images/images_201025.zip"}


@pytest.fixture
def v4_mirror(hub, monkeypatch):
    """The loopback server laid out as the V4 repository's data_V4_responses/ folder, holding the copy's files."""
    for name, remote in V4.items():
        hub.add_file(remote, (COPY / name).read_bytes())
    monkeypatch.setenv("RIDGE_DECODE_V4_URL", f"{hub.url}/files")
    return hub


def v4(dest: Path, *extra):
    return CliRunner().invoke(main, ["fetch-macaque-v4", "--dest", str(dest), *extra])


def last_line(res) -> str:
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output and "This is a bug" not in res.output, res.output
    return res.output.strip().splitlines()[-1]


@needs_copy
@pytest.mark.parametrize("name", list(V4))
def test_v4_a_truncated_file_in_dest_is_fetched_again(v4_mirror, tmp_path, name):
    dest = tmp_path / "v4"
    dest.mkdir()
    (dest / name).write_bytes((COPY / name).read_bytes()[:3000])
    res = v4(dest)
    assert res.exit_code == 0, res.output
    assert f"{dest / name} is damaged (3000 bytes; expected" in res.output
    for n in V4:
        assert (dest / n).read_bytes() == (COPY / n).read_bytes()


@needs_copy
def test_v4_faults_are_one_line_and_never_kept(v4_mirror, tmp_path):
    dest = tmp_path / "v4"
    zip_path = "/files/images/images_201025.zip"
    v4_mirror.faults = {zip_path: "html"}
    line = last_line(v4(dest))
    assert "served an HTML page" in line and "images_201025.zip" in line
    assert not (dest / "images_201025.zip").exists()
    v4_mirror.faults = {zip_path: "corrupt"}
    line = last_line(v4(dest))
    assert "sha256" in line and "removed" in line and not (dest / "images_201025.zip").exists()
    v4_mirror.faults = {zip_path: "cut"}
    assert "stopped at" in last_line(v4(dest)) and not (dest / "images_201025.zip").exists()
    v4_mirror.faults = {zip_path: "cut-once"}
    assert v4(dest, "--hdf5", str(tmp_path / "v4.h5")).exit_code == 0  # resumed within the run
    assert (dest / "images_201025.zip").read_bytes() == (COPY / "images_201025.zip").read_bytes()


@needs_copy
def test_v4_a_damaged_file_given_to_the_converter_names_it(tmp_path):
    from ridge_decode.errors import DataFormatError
    from ridge_decode.sources import macaque_v4

    for name in V4:
        shutil.copy(COPY / name, tmp_path / name)
    (tmp_path / "images_201025.zip").write_bytes((COPY / "images_201025.zip").read_bytes()[:5000])
    with pytest.raises(DataFormatError, match=r"images_201025.zip cannot be read .*fetch-macaque-v4 --dest"):
        macaque_v4.to_hdf5(tmp_path, tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


@needs_copy
def test_v4_read_only_dest_and_hdf5_are_one_line(v4_mirror, tmp_path):
    where = tmp_path / "ro"
    _mount_tmpfs(where, "size=1m,ro")
    try:
        line = last_line(v4(where / "v4"))
        assert "--dest" in line and "Read-only file system" in line
        assert v4(tmp_path / "v4").exit_code == 0
        line = last_line(v4(tmp_path / "v4", "--hdf5", str(where / "v4.h5")))
        assert "--hdf5" in line and "Read-only file system" in line
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
