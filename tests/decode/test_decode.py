import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ridge_decode.cli import main
from ridge_decode.decode import diffusion
from ridge_decode.decode.diffusion import Guidance, SamplerConfig, decode_batch, guidance_loss, load_pipeline
from ridge_decode.evaluation import metrics
from ridge_decode.features.clip_layers import ClipLayers, differentiable_features
from ridge_decode.sources.manifest import entry_path

FAST = {"steps": 4, "strength": 0.75, "cfg": 3.0}


@pytest.fixture(scope="module")
def pipe(tiny_weights):
    return load_pipeline(tiny_weights)


@pytest.fixture(scope="module")
def inputs(pipe):
    g = torch.Generator().manual_seed(0)
    lat = torch.randn(2, 4, 8, 8, generator=g).numpy() * 0.5
    tokens = torch.randn(2, 4, 8, generator=g).numpy()
    negative = torch.randn(4, 8, generator=g).numpy()
    return lat, tokens, negative


def _close(a, b, tol=1):
    """uint8 images equal up to ``tol`` levels: a batch of another size runs GEMMs of other shapes, whose float32
    round-off (~1e-6 of the range) can move a value across a rounding boundary, never by a whole level more."""
    assert a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).max() <= tol


def test_bypass_with_projected_tokens_equals_stock_path(tiny_weights, pipe, inputs):
    from transformers import CLIPVisionModelWithProjection

    from ridge_decode.weights import torch_load

    lat = inputs[0]
    stock = load_pipeline(tiny_weights, ip_adapter=False)
    ckpt = torch_load(entry_path("ipadapter_plus", tiny_weights), "ipadapter_plus")
    stock.load_ip_adapter(ckpt, subfolder="", weight_name="", image_encoder_folder=None, low_cpu_mem_usage=False)
    encoder = CLIPVisionModelWithProjection.from_pretrained(entry_path("ipadapter_image_encoder", tiny_weights))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        raw = encoder(torch.randn(2, 3, 224, 224, generator=g), output_hidden_states=True).hidden_states[-2]
        raw_neg = encoder(torch.zeros(1, 3, 224, 224), output_hidden_states=True).hidden_states[-2][0]
        projection = stock.unet.encoder_hid_proj.image_projection_layers[0]
        tokens, neg = projection(raw).numpy(), projection(raw_neg[None])[0].numpy()
    cfg = SamplerConfig(**FAST)
    _close(decode_batch(stock, lat, raw.numpy(), raw_neg.numpy(), cfg, [1, 2]),
           decode_batch(pipe, lat, tokens, neg, cfg, [1, 2]))


def test_ip_scale_zero_equals_no_adapter(tiny_weights, pipe, inputs):
    lat, tokens, negative = inputs
    plain = load_pipeline(tiny_weights, ip_adapter=False)
    without = decode_batch(plain, lat, None, None, SamplerConfig(**FAST), [5, 6])
    _close(decode_batch(pipe, lat, tokens, negative, SamplerConfig(**FAST, ip_scale=0.0), [5, 6]), without)
    assert np.abs(decode_batch(pipe, lat, tokens, negative, SamplerConfig(**FAST), [5, 6]).astype(int)
                  - without).max() > 1  # the adapter does act at scale 1


def test_strength_zero_returns_the_decoded_latent(pipe, inputs):
    lat, tokens, negative = inputs
    out = decode_batch(pipe, lat, tokens, negative, SamplerConfig(steps=4, strength=0.0), [1, 2])
    with torch.no_grad():
        ref = pipe.vae.decode(torch.as_tensor(lat) / pipe.vae.config.scaling_factor).sample
    ref = ((ref / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(out, ref)


def test_batch_size_and_seed(pipe, inputs):
    lat, tokens, negative = inputs
    cfg = SamplerConfig(**FAST, seed=3)
    both = decode_batch(pipe, lat, tokens, negative, cfg, [10, 11])
    one = [decode_batch(pipe, lat[i : i + 1], tokens[i : i + 1], negative, cfg, [10 + i]) for i in range(2)]
    _close(both, np.concatenate(one))
    np.testing.assert_array_equal(both, decode_batch(pipe, lat, tokens, negative, cfg, [10, 11]))
    other = decode_batch(pipe, lat, tokens, negative, SamplerConfig(**FAST, seed=4), [10, 11])
    assert np.abs(other.astype(int) - both).max() > 1
    assert diffusion.sample_seed(0, 10, 0) != diffusion.sample_seed(0, 10, 1)


def test_guidance_off_at_kappa_zero_and_lowers_the_loss(tiny_weights, pipe, inputs):
    lat, tokens, negative = inputs
    clip = ClipLayers(tiny_weights).model

    def features(images):
        return differentiable_features(clip, images)

    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        targets = features(torch.rand(2, 3, 64, 64, generator=g)).numpy()
    base = SamplerConfig(steps=6, strength=1.0, cfg=1.0, eta=1.0)
    plain = decode_batch(pipe, lat, tokens, negative, base, [1, 2])
    np.testing.assert_array_equal(decode_batch(pipe, lat, tokens, negative, base, [1, 2],
                                               guidance=Guidance(targets, features)), plain)

    def final_loss(images):
        x = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255
        with torch.no_grad():
            return guidance_loss(features(x), torch.as_tensor(targets)).mean().item()

    log = []
    guided = decode_batch(pipe, lat, tokens, negative, SamplerConfig(steps=6, strength=1.0, cfg=1.0, eta=1.0,
                                                                     kappa=3e3), [1, 2],
                          guidance=Guidance(targets, features, log))
    assert len(log) == 6 and all(len(e["loss"]) == 2 for e in log)
    assert final_loss(guided) < final_loss(plain)
    with pytest.raises(ValueError, match="needs the predicted clip_layers"):
        decode_batch(pipe, lat, tokens, negative, SamplerConfig(kappa=1.0, steps=2, eta=1.0), [1, 2])


GUIDED_DECODE = """
import sys, numpy as np, torch
from ridge_decode.decode.diffusion import Guidance, SamplerConfig, decode_batch, load_pipeline
from ridge_decode.features.clip_layers import ClipLayers, differentiable_features
pipe = load_pipeline(sys.argv[1])
clip = ClipLayers(sys.argv[1]).model
with torch.no_grad():
    targets = differentiable_features(clip, torch.rand(2, 3, 64, 64)).numpy()
rng = np.random.default_rng(0)
lat, tokens, negative = rng.standard_normal((2, 4, 8, 8)), rng.standard_normal((2, 4, 8)), rng.standard_normal((4, 8))
decode_batch(pipe, lat, tokens, negative, SamplerConfig(steps=2, strength=1.0, eta=1.0, kappa=10.0), [1, 2],
             guidance=Guidance(targets, lambda x: differentiable_features(clip, x)))
print("decoded")
"""


@pytest.mark.slow  # starts subprocesses
def test_guided_decode_prints_no_library_messages(tiny_weights):
    """What a guided decode loads (the pipeline with the adapter, the CLIP vision tower) and runs prints nothing of
    the libraries' own: no load report of unused CLIP text keys, no diffusers loader messages (docs/decoding.md).
    A fresh process, so that every library sets up its logging as a user's run would."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", GUIDED_DECODE, str(tiny_weights)], capture_output=True, text=True)
    log = res.stdout + res.stderr
    assert res.returncode == 0 and "decoded" in res.stdout, log
    for noise in ("UNEXPECTED", "LOAD REPORT", "Casting directly", "image_encoder is not loaded", "accelerate",
                  "Warning", "warn"):
        assert noise not in log, f"loading and guided decoding printed {noise!r}:\n{log}"


def test_bad_sampler_settings():
    for kw, msg in (({"strength": 1.5}, "strength"), ({"steps": 0}, "steps"), ({"kappa": -1.0}, "kappa")):
        with pytest.raises(ValueError, match=msg):
            SamplerConfig(**kw).check()


def test_weight_free_decode_cli(synthetic_copy, tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["extract-features", "--data-root", str(synthetic_copy)]).exit_code == 0
    res = runner.invoke(main, ["fit", "--data-root", str(synthetic_copy), "--out", str(tmp_path / "outputs")])
    assert res.exit_code == 0, res.output
    args = ["decode", "--subject", "1", "--data-root", str(synthetic_copy), "--model-dir",
            str(tmp_path / "outputs" / "subj01"), "--decoder", "weight-free", "--out", str(tmp_path / "recon")]
    res = runner.invoke(main, args)
    assert res.exit_code == 0, res.output
    pngs = sorted((tmp_path / "recon").glob("[0-9]*.png"))
    assert len(pngs) == 50 and all(len(p.stem) == 5 for p in pngs)
    config = json.loads((tmp_path / "recon" / "config.json").read_text())
    assert config["decoder_name"] == "weight-free" and (tmp_path / "recon" / "grid.png").exists()
    from ridge_decode.sources.nsd import open_stimuli

    ids = np.array([int(p.stem) for p in pngs])
    recon = np.stack([np.asarray(__import__("PIL.Image").Image.open(p)) for p in pngs])
    stimuli = open_stimuli(synthetic_copy).read(ids)
    assert recon.shape == stimuli.shape  # at the stimulus resolution
    assert metrics.two_way_identification(recon.astype(float), stimuli.astype(float)) > 0.8
    res = runner.invoke(main, args)  # resumes: nothing left to do
    assert res.exit_code == 0 and "(50 already there)" in res.output
    sharded = tmp_path / "sharded"  # two shards of a job array into one folder equal one run
    for i in (1, 0):
        res = runner.invoke(main, [*args[:-1], str(sharded), "--shard", f"{i}/2"])
        assert res.exit_code == 0, res.output
    assert sorted(p.name for p in sharded.glob("[0-9]*.png")) == [p.name for p in pngs]
    for p in pngs:
        assert (sharded / p.name).read_bytes() == p.read_bytes()


def test_diffusion_decode_cli_and_its_errors(synthetic_copy, tiny_weights, tmp_path):
    runner = CliRunner()
    base = ["--data-root", str(synthetic_copy)]
    res = runner.invoke(main, ["decode", *base, "--model-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    assert res.exit_code != 0 and "no predictions at" in res.output and "scripts/fit.py" in res.output
    assert runner.invoke(main, ["extract-features", *base, "--weights-root", str(tiny_weights), "--families",
                                "ipadapter_plus,autokl,pixels", "--batch-size", "128",
                                "--subjects", "1"]).exit_code == 0
    out = tmp_path / "outputs"
    res = runner.invoke(main, ["fit", *base, "--families", "pixels", "--out", str(out / "a")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["decode", *base, "--model-dir", str(out / "a" / "subj01"), "--out", str(tmp_path / "r"),
                               "--weights-root", str(tiny_weights)])
    assert res.exit_code != 0 and "refit with --families autokl,ipadapter_plus" in res.output
    res = runner.invoke(main, ["fit", *base, "--families", "autokl,ipadapter_plus", "--out", str(out / "b")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["decode", *base, "--model-dir", str(out / "b" / "subj01"), "--out", str(tmp_path / "r"),
                               "--weights-root", str(tiny_weights), "--n-images", "3", "--steps", "2",
                               "--samples", "2", "--batch-size", "2"])
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in (tmp_path / "r").glob("[0-9]*.png"))
    assert len(names) == 6 and sum(n.endswith("_1.png") for n in names) == 3
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["decoder_name"] == "diffusion" and config["steps"] == 2
