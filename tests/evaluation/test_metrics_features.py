import numpy as np
import pytest

from ridge_decode.decode.weightfree import pixels_to_images
from ridge_decode.evaluation import metrics
from ridge_decode.features import REGISTRY, FeatureStore
from ridge_decode.features.pixels import pixels


def test_two_way_identification_against_loop():
    rng = np.random.default_rng(0)
    t = rng.standard_normal((15, 40))
    r = t + 2.0 * rng.standard_normal((15, 40))
    n = len(t)
    c = lambda a, b: np.corrcoef(a, b)[0, 1]  # noqa: E731
    wins = [sum(c(t[i], r[j]) < c(t[j], r[j]) for i in range(n) if i != j) / (n - 1) for j in range(n)]
    assert metrics.two_way_identification(r, t) == pytest.approx(np.mean(wins))  # (pred, true)
    assert metrics.two_way_identification(t, t) == 1.0
    shuffled = [metrics.two_way_identification(t[rng.permutation(n)], t) for _ in range(50)]
    assert abs(np.mean(shuffled) - 0.5) < 0.05


def test_pixcorr_and_columnwise_r():
    rng = np.random.default_rng(1)
    a, b = rng.random((5, 8, 8, 3)), rng.random((5, 8, 8, 3))
    expected = np.mean([np.corrcoef(a[i].ravel(), b[i].ravel())[0, 1] for i in range(5)])
    assert metrics.pixcorr(a, b) == pytest.approx(expected)
    x, y = rng.random((30, 4)), rng.random((30, 4))
    np.testing.assert_allclose(metrics.columnwise_r(x, y), [np.corrcoef(x[:, j], y[:, j])[0, 1] for j in range(4)])


def test_pixels_are_block_means():
    rng = np.random.default_rng(2)
    imgs = rng.integers(0, 256, (3, 128, 128, 3), dtype=np.uint8)
    out = pixels(imgs, 32)
    expected = imgs.reshape(3, 32, 4, 32, 4, 3).mean(axis=(2, 4)) / 255.0
    np.testing.assert_allclose(out, expected, atol=1 / 255)
    assert REGISTRY["pixels"].shape == (32, 32, 3)
    with pytest.raises(ValueError, match="uint8"):
        pixels(imgs.astype(float))
    back = pixels_to_images(out, size=64)
    assert back.shape == (3, 64, 64, 3) and back.dtype == np.uint8


def test_feature_store_round_trip(tmp_path):
    store = FeatureStore(tmp_path)
    ids = np.array([7, 3, 11])
    feats = np.arange(3 * 4, dtype=np.float32).reshape(3, 2, 2)
    store.write("toy", ids, feats, {"how": "test"})
    assert np.array_equal(store.ids("toy"), [3, 7, 11]) and store.attrs("toy") == {"how": "test"}
    np.testing.assert_array_equal(store.read("toy", [11, 7, 7]), feats[[2, 0, 0]])
    with pytest.raises(KeyError, match=r"\[5\]"):
        store.read("toy", [3, 5])
    with pytest.raises(FileNotFoundError, match="extract_features.py --families nope"):
        store.read("nope", [3])
    assert not list(tmp_path.glob("*.part"))


def test_feature_rows_read_only_what_is_asked(tmp_path, monkeypatch):
    import ridge_decode.features.cache as store_mod

    monkeypatch.setattr(store_mod, "READ_BLOCK_ROWS", 3)  # several blocks even on a toy file
    store = FeatureStore(tmp_path)
    rng = np.random.default_rng(3)
    ids = np.arange(0, 40, 2)
    feats = rng.standard_normal((20, 3, 5)).astype(np.float32)
    store.write("toy", ids, feats)
    want = np.array([38, 4, 6, 4, 20, 0, 30])
    view = store.rows("toy", want)
    expected = feats[want // 2]
    assert view.shape == (7, 3, 5) and len(view) == 7 and view.ndim == 3
    np.testing.assert_array_equal(view[:], expected)
    np.testing.assert_array_equal(view[:, 1:3], expected[:, 1:3])
    np.testing.assert_array_equal(view[2], expected[2])
    with pytest.raises(IndexError, match="view\\[i\\] and view\\[:, ...\\]"):
        view[1:3]
