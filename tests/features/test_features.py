import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ridge_decode.cli import main
from ridge_decode.features import REGISTRY, FeatureStore
from ridge_decode.features.extract import extract_family, parse_shard
from ridge_decode.features.ipadapter import load_resampler
from ridge_decode.sources.manifest import DataFileError, DataFormatError, entry_path
from ridge_decode.sources.nsd import open_stimuli, read_captions, viewed_ids

MODEL_FAMILIES = ["ipadapter_plus", "autokl", "clip_text", "clip_layers"]


def _run(root, store, name, ids, weights, **kw):
    stim = open_stimuli(root)
    return extract_family(name, ids, store, read_images=stim.read, read_captions=lambda b: read_captions(b, root),
                          weights_root=weights, progress=False, **kw)


@pytest.fixture(scope="module")
def some_ids(synthetic_root):
    return viewed_ids(synthetic_root)[:7]


@pytest.mark.parametrize("name", MODEL_FAMILIES)
def test_family_shapes_metadata_and_determinism(name, synthetic_root, tiny_weights, some_ids, tmp_path):
    store = FeatureStore(tmp_path)
    path = _run(synthetic_root, store, name, some_ids[::-1], tiny_weights, batch_size=3)
    extractor = REGISTRY[name].make(tiny_weights)
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["ids"][()], some_ids)  # sorted by id whatever the request order
        feats = f["features"][()]
        assert feats.shape == (len(some_ids),) + extractor.shape and np.isfinite(feats).all()
        made_by = f.attrs["made_by"]
    for word in ("preprocessing", "files", '"dtype": "float32"', "ridge_decode"):
        assert word in made_by
    again = _run(synthetic_root, FeatureStore(tmp_path / "again"), name, some_ids, tiny_weights, batch_size=3)
    with h5py.File(again, "r") as f:
        np.testing.assert_array_equal(f["features"][()], feats)  # deterministic
    other = _run(synthetic_root, FeatureStore(tmp_path / "other"), name, some_ids, tiny_weights, batch_size=5)
    with h5py.File(other, "r") as f:  # batch size changes only float round-off
        np.testing.assert_allclose(f["features"][()], feats, rtol=1e-3, atol=1e-2 * np.abs(feats).max())
    assert not list(tmp_path.glob("*.part"))


def test_real_shapes_in_registry():
    assert REGISTRY["ipadapter_plus"].shape == (16, 768) and REGISTRY["autokl"].shape == (4, 64, 64)
    assert REGISTRY["clip_text"].shape == (77, 768)
    assert np.prod(REGISTRY["clip_layers"].shape) <= 25_000
    assert not REGISTRY["pixels"].needs_weights and REGISTRY["ipadapter_plus"].needs_weights


def test_ipadapter_tokens_match_diffusers_projection(synthetic_root, tiny_weights, some_ids, tmp_path):
    from diffusers import UNet2DConditionModel
    from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

    path = _run(synthetic_root, FeatureStore(tmp_path), "ipadapter_plus", some_ids, tiny_weights)
    with h5py.File(path, "r") as f:
        tokens, negative = f["features"][()], f["negative"][()]
    # an independent forward: transformers' encoder + diffusers' own Plus projection from the same checkpoint
    unet = UNet2DConditionModel(block_out_channels=(4, 8), layers_per_block=1, sample_size=32, norm_num_groups=2,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=8)
    ckpt = torch.load(entry_path("ipadapter_plus", tiny_weights), weights_only=True)
    proj = unet._convert_ip_adapter_image_proj_to_diffusers(ckpt["image_proj"], low_cpu_mem_usage=False).eval()
    encoder = CLIPVisionModelWithProjection.from_pretrained(entry_path("ipadapter_image_encoder", tiny_weights))
    processor = CLIPImageProcessor()  # CLIP's standard preprocessing at 224, done on the device as extraction does
    # (test_device_preprocessing_agrees_with_the_pil_path bounds its difference to transformers' own)
    from ridge_decode.features.preprocess import clip_input

    pixels = clip_input(open_stimuli(synthetic_root).read(some_ids), processor, "cpu", torch.float32)
    with torch.no_grad():
        expected = proj(encoder(pixels, output_hidden_states=True).hidden_states[-2]).numpy()
        zero = proj(encoder(torch.zeros(1, 3, 224, 224), output_hidden_states=True).hidden_states[-2]).numpy()[0]
        black = processor(images=[np.zeros((64, 64, 3), np.uint8)], return_tensors="pt").pixel_values
        black = proj(encoder(black, output_hidden_states=True).hidden_states[-2]).numpy()[0]
    # Two float32 implementations of one network (ours and diffusers' Resampler) round in another order: a few
    # eps per layer over ~10 layers. Measured 2.8e-6 at scale 2.3 with 1 and 2 threads; the bound is 64 eps.
    tol = 64 * np.finfo(np.float32).eps * np.abs(expected).max()
    np.testing.assert_allclose(tokens, expected, rtol=0, atol=tol)
    np.testing.assert_allclose(negative, zero, rtol=0, atol=tol)
    assert np.abs(negative - black).max() > 1e-3 and np.abs(negative).max() > 1e-3  # not a black image, not zeros


def test_resampler_rejects_a_non_plus_checkpoint():
    with pytest.raises(DataFormatError, match="not a Plus checkpoint"):
        load_resampler({"proj.weight": torch.zeros(3, 3)})


class _Crash(Exception):
    pass


def _flaky(stim, calls: list, fail_at: int):
    """A reader of ``stim`` that records each batch in ``calls`` and crashes at read number ``fail_at``."""

    def read(batch):
        calls.append(batch)
        if len(calls) == fail_at:
            raise _Crash
        return stim.read(batch)

    return read


def test_interrupted_extraction_resumes_to_the_same_file(synthetic_root, tiny_weights, some_ids, tmp_path):
    stim = open_stimuli(synthetic_root)
    calls = []
    flaky = _flaky(stim, calls, 2)

    store = FeatureStore(tmp_path / "resumed")
    with pytest.raises(_Crash):
        extract_family("clip_layers", some_ids, store, read_images=flaky, weights_root=tiny_weights,
                       batch_size=3, progress=False)
    assert store.path("clip_layers").with_suffix(".h5.part").exists() and not store.exists("clip_layers")
    calls.clear()
    extract_family("clip_layers", some_ids, store, read_images=lambda b: calls.append(b) or stim.read(b),
                   weights_root=tiny_weights, batch_size=3, progress=False)
    assert len(calls) == 2  # 3 batches, the first was kept
    whole = _run(synthetic_root, FeatureStore(tmp_path / "whole"), "clip_layers", some_ids, tiny_weights,
                 batch_size=3)
    with h5py.File(store.path("clip_layers"), "r") as a, h5py.File(whole, "r") as b:
        np.testing.assert_array_equal(a["ids"][()], b["ids"][()])
        np.testing.assert_array_equal(a["features"][()], b["features"][()])


def test_shards_merge_to_one_run(synthetic_root, tiny_weights, some_ids, tmp_path):
    store = FeatureStore(tmp_path / "sharded")
    for i in (2, 0):  # shard 1 of 3 is still missing
        _run(synthetic_root, store, "ipadapter_plus", some_ids, tiny_weights, batch_size=1, shard=(i, 3))
    with pytest.raises(FileNotFoundError, match=r"ipadapter_plus.shard-1-of-3.h5"):
        store.merge_shards("ipadapter_plus")
    _run(synthetic_root, store, "ipadapter_plus", some_ids, tiny_weights, batch_size=1, shard=(1, 3))
    merged = store.merge_shards("ipadapter_plus")
    whole = _run(synthetic_root, FeatureStore(tmp_path / "whole"), "ipadapter_plus", some_ids, tiny_weights,
                 batch_size=1)  # one image per batch on both sides: the same arithmetic, so equal bits
    with h5py.File(merged, "r") as a, h5py.File(whole, "r") as b:
        for key in ("ids", "features", "negative"):
            np.testing.assert_array_equal(a[key][()], b[key][()])
    assert parse_shard("1/3") == (1, 3) and parse_shard(None) is None
    with pytest.raises(ValueError, match="0 <= i < N"):
        parse_shard("3/3")


def test_missing_and_corrupt_weights_get_clear_errors(tiny_weights, tmp_path):
    with pytest.raises(DataFileError, match=r"manifest entry 'sd15'(.|\n)*stable-diffusion-v1-5"):
        REGISTRY["autokl"].make(tmp_path / "empty")
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_weights, broken)
    entry_path("ipadapter_plus", broken).write_bytes(b"not a checkpoint")
    with pytest.raises(DataFormatError, match=r"ip-adapter-plus_sd15.bin \(manifest entry 'ipadapter_plus'\)"):
        REGISTRY["ipadapter_plus"].make(broken)
    for f in (entry_path("clip_vit_l14", broken)).glob("*.safetensors"):
        f.write_bytes(b"garbage")
    with pytest.raises(DataFormatError, match=r"manifest entry 'clip_vit_l14'"):
        REGISTRY["clip_layers"].make(broken)


def test_cli_list_ids_and_absent_id(synthetic_copy, tiny_weights, tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["extract-features", "--list", "--weights-root", str(tiny_weights)])
    assert res.exit_code == 0
    for name in ("ipadapter_plus", "autokl", "clip_text", "clip_layers", "pixels"):
        assert name in res.output
    assert "16x768" in res.output and "weights missing" not in res.output
    res = runner.invoke(main, ["extract-features", "--list", "--weights-root", str(tmp_path / "none")])
    assert "weights missing: sd15" in res.output
    res = runner.invoke(main, ["extract-features", "--data-root", str(synthetic_copy), "--families", "clip_text",
                               "--weights-root", str(tiny_weights), "--ids", "5,72999,99999"])
    assert res.exit_code != 0 and "has no image for ids [99999]" in res.output


def test_fit_reads_model_features_from_the_cache(synthetic_copy, tiny_weights, tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["extract-features", "--data-root", str(synthetic_copy), "--families",
                               "ipadapter_plus,clip_text", "--weights-root", str(tiny_weights), "--batch-size", "64",
                               "--dtype", "float16", "--subjects", "1"])
    assert res.exit_code == 0, res.output
    with h5py.File(synthetic_copy / "features" / "clip_text.h5", "r") as f:
        assert f["features"].dtype == np.float16
    out = tmp_path / "o"
    res = runner.invoke(main, ["fit", "--data-root", str(synthetic_copy), "--families", "ipadapter_plus,clip_text",
                               "--out", str(out), "--alphas", "0:6:7"])
    assert res.exit_code == 0, res.output
    with h5py.File(out / "subj01" / "predictions.h5", "r") as f:
        assert f["pred/ipadapter_plus"].shape == (50, 4, 8) and f["pred/clip_text"].shape == (50, 77, 8)


def test_fit_names_the_feature_file_and_id_missing_from_the_cache(synthetic_copy, tmp_path):
    from ridge_decode.sources.nsd import load_subject

    data = load_subject(1, synthetic_copy, progress=False)
    keep = np.setdiff1d(np.concatenate([data.train_ids, data.test_ids]), data.train_ids[3:4])
    FeatureStore(synthetic_copy / "features").write("pixels", keep, np.zeros((len(keep), 2), np.float32))
    res = CliRunner().invoke(main, ["fit", "--data-root", str(synthetic_copy), "--out", str(tmp_path)])
    assert res.exit_code != 0
    assert "pixels.h5" in res.output and f"[{int(data.train_ids[3])}]" in res.output


def test_captions_are_parsed_once_per_extraction(synthetic_root, tiny_weights, tmp_path, monkeypatch):
    """COCO's caption files are ~600,000 captions: an extraction parses them once, not once per batch."""
    import json as jsonlib

    from ridge_decode.pipeline import ExtractRequest, run_extract
    from ridge_decode.sources import NSDSource, nsd

    loads = []
    monkeypatch.setattr(nsd.json, "load", lambda f: loads.append(f.name) or jsonlib.loads(f.read()))
    ids = ",".join(str(i) for i in viewed_ids(synthetic_root)[:12])
    run_extract(ExtractRequest(["clip_text"], NSDSource(synthetic_root, None), features_dir=tmp_path,
                                    weights_root=tiny_weights, ids=ids, batch_size=3, progress=False))
    captions = [name for name in loads if "captions_" in name]
    assert len(captions) == 2 and FeatureStore(tmp_path).ids("clip_text").size == 12  # train and val, 4 batches


ONE_PASS = ["pixels", "clip_layers", "ipadapter_plus", "clip_text"]


def test_one_pass_gives_each_familys_features_and_reads_each_batch_once(synthetic_root, tiny_weights, some_ids,
                                                                         tmp_path):
    """Several families in one pass over the images: bit for bit what each gives alone, each batch read once."""
    from ridge_decode.features.extract import extract_families

    stim, reads = open_stimuli(synthetic_root), []
    one = FeatureStore(tmp_path / "one")
    extract_families(ONE_PASS, some_ids, one, read_images=lambda b: reads.append(b) or stim.read(b),
                     read_captions=lambda b: read_captions(b, synthetic_root), weights_root=tiny_weights,
                     batch_size=3, progress=False)
    assert len(reads) == 3  # 7 images in batches of 3, read once for the three image families
    for name in ONE_PASS:
        alone = _run(synthetic_root, FeatureStore(tmp_path / name), name, some_ids, tiny_weights, batch_size=3)
        with h5py.File(one.path(name), "r") as a, h5py.File(alone, "r") as b:
            np.testing.assert_array_equal(a["ids"][()], b["ids"][()])
            np.testing.assert_array_equal(a["features"][()], b["features"][()])


def test_an_interrupted_one_pass_extraction_resumes_every_family(synthetic_root, tiny_weights, some_ids, tmp_path):
    from ridge_decode.features.extract import extract_families

    stim, calls = open_stimuli(synthetic_root), []
    flaky = _flaky(stim, calls, 3)

    store = FeatureStore(tmp_path / "resumed")
    caps = lambda b: read_captions(b, synthetic_root)  # noqa: E731
    with pytest.raises(_Crash):
        extract_families(ONE_PASS, some_ids, store, read_images=flaky, read_captions=caps, weights_root=tiny_weights,
                         batch_size=3, progress=False)
    assert not any(store.exists(n) for n in ONE_PASS)
    calls.clear()
    extract_families(ONE_PASS, some_ids, store, read_images=lambda b: calls.append(b) or stim.read(b),
                     read_captions=caps, weights_root=tiny_weights, batch_size=3, progress=False)
    assert len(calls) == 1  # the two batches computed before the crash were kept by every family
    whole = FeatureStore(tmp_path / "whole")
    extract_families(ONE_PASS, some_ids, whole, read_images=stim.read, read_captions=caps, weights_root=tiny_weights,
                     batch_size=3, progress=False, overlap=False)
    for name in ONE_PASS:
        with h5py.File(store.path(name), "r") as a, h5py.File(whole.path(name), "r") as b:
            np.testing.assert_array_equal(a["features"][()], b["features"][()])


def test_device_preprocessing_agrees_with_the_pil_path(synthetic_root):
    """Resizing on the device (torch, bicubic, antialiased) against the PIL path it replaced (PIL bicubic on the
    uint8 image for the VAE; transformers' CLIPImageProcessor for CLIP): within the bounds docs/features.md gives."""
    from PIL import Image

    from ridge_decode.features import preprocess as pp
    from ridge_decode.weights import CLIP_STD, clip_processor

    images = open_stimuli(synthetic_root).read(viewed_ids(synthetic_root)[:16])
    pil = np.stack([np.asarray(Image.fromarray(im).resize((512, 512), Image.BICUBIC)) for im in images])
    pil = torch.from_numpy(pil).permute(0, 3, 1, 2).float() / 255.0
    ours = (pp.vae_input(images, 512, "cpu", torch.float32) + 1.0) / 2.0
    diffs = [(ours - pil).abs()]
    processor = clip_processor(synthetic_root / "no_such_folder", 224)
    reference = processor(images=list(images), return_tensors="pt")["pixel_values"]
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    diffs.append(((pp.clip_input(images, processor, "cpu", torch.float32) - reference) * std).abs())  # pixel units
    for d in diffs:
        assert d.max().item() <= pp.PIL_MAX_DIFF and d.mean().item() <= pp.PIL_MEAN_DIFF, (d.max(), d.mean())
        assert d.max().item() > 0  # the two paths do differ: the bound is not vacuous
