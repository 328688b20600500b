"""The data home (issue 44): one folder for what the examples and the demo write, ``$RIDGE_DECODE_DATA`` else
``~/ridge_decode_data``; each dataset written once, its size said, then reused; a dataset that cannot be had is an
error naming the files and what provides them."""

import json

import pytest

import ridge_decode as rd
from ridge_decode.errors import DataFileError, InputError


def test_the_data_home_is_the_argument_else_the_variable_else_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RIDGE_DECODE_DATA", str(tmp_path / "env"))
    assert rd.get_data_home(tmp_path / "arg") == (tmp_path / "arg").resolve() and (tmp_path / "arg").is_dir()
    assert rd.get_data_home() == (tmp_path / "env").resolve()
    monkeypatch.delenv("RIDGE_DECODE_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert rd.get_data_home() == (tmp_path / "home" / "ridge_decode_data").resolve()
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(InputError, match="data_home: expected a folder, found a file at .*a_file"):
        rd.get_data_home(tmp_path / "a_file")


def test_the_synthetic_subject_is_written_once_with_its_size_then_reused(tmp_path):
    from ridge_decode.datasets import format_size

    said = []
    root = rd.fetch_synthetic("tiny", size="tiny", subjects=[1], data_home=tmp_path, echo=said.append)
    assert root == tmp_path.resolve() / "tiny" and json.loads((root / "synthetic.json").read_text())["size"] == "tiny"
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert len(said) == 2 and f"wrote {format_size(size)} to {root}" in said[1]
    stamp = (root / "synthetic.json").stat().st_mtime_ns
    assert rd.fetch_synthetic("tiny", size="tiny", subjects=[1], data_home=tmp_path, echo=said.append) == root
    assert len(said) == 2 and (root / "synthetic.json").stat().st_mtime_ns == stamp  # reused, not rewritten
    with pytest.raises(InputError, match="one folder name"):
        rd.fetch_synthetic("../elsewhere", data_home=tmp_path)


def test_sizes_read_as_du_si():
    from ridge_decode.datasets import format_size

    assert [format_size(n) for n in (12, 4_560, 436_000_000, 6_100_000_000)] == ["12 B", "4.56 kB", "436 MB",
                                                                                  "6.1 GB"]


def test_missing_v4_data_name_the_files_and_what_provides_them(tmp_path, monkeypatch):
    monkeypatch.setenv("RIDGE_DECODE_V4_DIR", str(tmp_path / "v4"))
    (tmp_path / "v4").mkdir()
    with pytest.raises(DataFileError, match=r"RIDGE_DECODE_V4_DIR is .*v4, which lacks \['responses_201025.npy', "
                                            r"'images_201025.zip'\]"):
        rd.fetch_macaque_v4(data_home=tmp_path / "home")
    monkeypatch.delenv("RIDGE_DECODE_V4_DIR")
    monkeypatch.setenv("RIDGE_DECODE_V4_URL", "http://127.0.0.1:9/none")  # a closed loopback port: no download
    with pytest.raises(DataFileError) as caught:
        rd.fetch_macaque_v4(data_home=tmp_path / "home", echo=lambda line: None)
    message = str(caught.value)
    assert "Set RIDGE_DECODE_V4_DIR" in message and "scripts/fetch_macaque_v4.py --dest" in message
    assert str((tmp_path / "home").resolve() / "macaque_v4") in message
    assert not list((tmp_path / "home").glob("*.h5"))  # nothing half-written
