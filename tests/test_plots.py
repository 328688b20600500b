"""The package's figures: Figures made without pyplot that a notebook displays, and brain maps whose colour bars are
in each map's own units (issue 44)."""

import nibabel as nib
import numpy as np

from ridge_decode import plots


def _maps():
    rng = np.random.default_rng(0)
    grid = np.zeros((6, 6, 4), bool)
    grid[1:5, 1:5, :] = True
    affine = np.eye(4)

    def image(values):
        volume = np.full(grid.shape, np.nan, np.float32)
        volume[grid] = values
        return nib.Nifti1Image(volume, affine)

    n = int(grid.sum())
    maps = {"noise_ceiling": image(rng.uniform(0, 40, n)), "encoding_pixels": image(rng.uniform(-0.1, 0.5, n)),
            "share_pixels_vs_latent": image(rng.uniform(0.1, 0.9, n))}
    return maps, nib.Nifti1Image(grid.astype(np.uint8), affine)


def test_brain_maps_have_colour_bars_in_their_own_units_and_titles_apart_from_the_slices(tmp_path):
    maps, background = _maps()
    fig = plots.plot_maps(maps, background, tmp_path / "maps.png", title="subject: brain maps", cuts=3)
    assert fig.canvas.manager is None and (tmp_path / "maps.png").stat().st_size > 10_000
    bars = {ax.get_ylabel(): ax for ax in fig.axes if ax.get_ylabel()}
    assert set(bars) == {"% of variance", "R2", "share of pixels (0.5: equal)"}
    low, high = bars["share of pixels (0.5: equal)"].get_ylim()
    assert (low, high) == (0.0, 1.0)  # the share itself, not share - 0.5
    assert bars["R2"].get_ylim()[0] < 0 < bars["R2"].get_ylim()[1]  # negative R^2 kept, below 0
    titles = [t.get_text() for t in fig.texts]
    assert any(t.startswith("share of the explained variance: R2(pixels) / (R2(pixels) + R2(latent))") for t in titles)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    text_boxes = [t.get_window_extent(renderer) for t in fig.texts if t.get_text() in {
        "noise ceiling", "encoding map of pixels: out-of-sample R2 (GCV)"}]
    slice_boxes = [ax.get_window_extent(renderer) for ax in fig.axes if not ax.get_ylabel() and ax.images]
    assert text_boxes and slice_boxes
    assert not any(t.overlaps(s) for t in text_boxes for s in slice_boxes)  # the labels sit above the slices


def test_the_figures_draw_themselves_as_png_for_a_notebook():
    fig = plots.plot_transfer([{"method": "scratch", "n_train": 10, "mean_r": 0.1, "seconds": 0.5},
                               {"method": "scratch", "n_train": 20, "mean_r": 0.2, "seconds": 0.9}])
    png = fig._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
