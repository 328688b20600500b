from importlib import metadata

from tools import pins


def test_pins_round_trip_and_name_a_mismatch(tmp_path, capsys):
    path = tmp_path / "constraints.txt"
    pins.write(path)
    written = pins.read_pins(path)
    assert written["numpy"] == metadata.version("numpy") and "ridge-decode" not in written
    assert pins.check(path) == 0 and not pins.mismatches(path)
    path.write_text(path.read_text().replace(f"numpy=={metadata.version('numpy')}", "numpy==0.0.1")
                    + "some-other-platform-package==1.0\n")
    assert pins.check(path) == 1
    err = capsys.readouterr().err
    assert f"numpy is pinned to 0.0.1, but {metadata.version('numpy')} is installed" in err
    assert pins.mismatches(path) == {"numpy": ("0.0.1", metadata.version("numpy"))}  # absent packages are no error
    assert pins.pinned_set(path)["environment_matches"] is False and pins.pinned_set(tmp_path / "none") is None
