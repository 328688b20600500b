"""Cross-subject transfer: a new subject fits only a new output layer into a shared space frozen on a reference.

Shared parts, fitted once on the reference subject and frozen:
- the target features (they belong to the images, not to a subject);
- for each target group, the ``rank`` directions of target space that the reference's brain predicts: the top
  right singular vectors ``V`` (t x k) of the reference ridge's fitted values on its *training* images (reduced-rank
  ridge), and the reference's target mean ``m``.

New subject: its training targets are projected, ``S = (Y - m) V`` (n x k), and a ridge from its voxels to ``S``
(k targets per group, alpha per target by GCV) is the only thing it fits. Its targets are read back through the
frozen basis: ``Y_hat = S_hat V^T + m``. With few images the k-dimensional constraint is what helps: the scratch
ridge must estimate every one of the t targets' weights from the same few images.

``PrincipalRidge`` is the fair scratch baseline: the same kind of model on the new subject alone, a ridge into the
principal directions of its own training targets (all of them) with alpha chosen per direction. Transfer's gain over
it is what the reference brings; its gain over the package's per-target ridge is what choosing the regularisation
per direction of target space brings.

Nothing here reads test rows: the basis comes from the reference's training predictions, and NSD's only images
common to subjects (shared1000) are the test set, so subjects are never aligned on shared images. See
docs/transfer.md for the equations and costs.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from ..errors import DataFormatError, InputError
from ..runtime.io import atomic_path, versions
from . import DEFAULT_ALPHAS, OneStageRidge

DEFAULT_RANK = 64
# principal directions of the targets whose variance is below this fraction of the largest hold none: float
# round-off of a rank-deficient Gram matrix
RANK_TOL = 1e-9
FORMAT = "ridge_decode.SharedSpace/1"


class SharedSpace:
    """The frozen shared part of a reference subject's fit: per target group, a basis of its fitted targets.

    Made by ``SharedSpace.from_reference(model, X_train, rank)`` from the reference's ``OneStageRidge`` and its
    training voxels ``X_train`` (n, p); then frozen.

    Attributes
    ----------
    groups_ : list of str
        The target groups.
    target_shapes_ : dict of str to tuple
        Each group's target shape per image, e.g. (32, 32, 3): t values.
    basis_ : dict of str to ndarray of shape (t, k), float32
        k orthonormal directions of the reference's fitted targets (k = the rank).
    mean_ : dict of str to ndarray of shape (t,)
        The targets' mean, in their own units.
    info_ : dict
        The reference subject, the rank, the explained variance of the fitted values and the versions.
    """

    @classmethod
    def from_reference(cls, model: OneStageRidge, X_train, rank: int = DEFAULT_RANK, groups=None,
                       seed: int = 0, info: dict | None = None) -> SharedSpace:
        """Basis from the reference ``model``'s fitted values on its training voxels ``X_train`` (n, p)."""
        # heavy (sklearn): imported where used
        from sklearn.utils.extmath import randomized_svd

        groups = list(groups or model.groups_)
        missing = [g for g in groups if g not in model.groups_]
        if missing:
            raise InputError(f"the reference model has no groups {missing}; it has {model.groups_}")
        fitted = model.predict(X_train, groups=groups)
        self = cls()
        self.groups_, self.target_shapes_, self.basis_, self.mean_ = groups, {}, {}, {}
        explained = {}
        for g in groups:
            P = fitted[g].reshape(len(X_train), -1).astype(np.float64)
            k = int(min(rank, P.shape[1], len(P) - 1))
            Pc = P - P.mean(axis=0)
            _, s, Vt = randomized_svd(Pc, k, random_state=seed)
            self.basis_[g] = Vt.T.astype(np.float32)
            self.mean_[g] = model.y_mean_[g].astype(np.float64)
            self.target_shapes_[g] = model.target_shapes_[g]
            explained[g] = float((s**2).sum() / max((Pc**2).sum(), 1e-300))
        self.info_ = {"rank": rank, "explained_variance_of_fitted": explained, "n_reference_images": len(X_train),
                      **(info or {}), "versions": versions()}
        return self

    @classmethod
    def from_targets(cls, targets: dict, info: dict | None = None) -> SharedSpace:
        """Every principal direction of each group's targets {group: (n, ...)}: the basis (t, r) spans the centred
        targets, r their rank (directions with variance below ``RANK_TOL`` of the largest dropped: they hold no
        target variance). Computed from the n x n Gram matrix when n < t (cost 2 n^2 t + O(n^3)); the basis is as
        large as the targets when n < t (t x (n - 1) float32)."""
        self = cls()
        self.groups_, self.target_shapes_, self.basis_, self.mean_ = list(targets), {}, {}, {}
        for g, Y in targets.items():
            shape = np.shape(Y)
            n = shape[0]
            Yc = np.array(Y, dtype=np.float64).reshape(n, -1)  # a copy, centred in place: one n x t array
            m = Yc.mean(axis=0)
            Yc -= m
            if n < Yc.shape[1]:
                lam, U = np.linalg.eigh(Yc @ Yc.T)
                lam, U = lam[::-1], U[:, ::-1]  # largest first, as the SVD orders them
                keep = lam > RANK_TOL * max(lam[0], 1e-300)
                V = Yc.T @ (U[:, keep] / np.sqrt(lam[keep]))
            else:
                _, sv, Vt = np.linalg.svd(Yc, full_matrices=False)
                V = Vt[sv**2 > RANK_TOL * max(sv[0] ** 2, 1e-300)].T
            self.basis_[g] = V.astype(np.float32)
            self.mean_[g] = m
            self.target_shapes_[g] = tuple(shape[1:])
        self.info_ = {"rank": "all", "ranks": {g: int(v.shape[1]) for g, v in self.basis_.items()}, **(info or {}),
                      "versions": versions()}
        return self

    def project(self, group: str, Y) -> np.ndarray:
        """Targets (n, ...) of ``group`` -> shared coordinates (n, k)."""
        Y = np.asarray(Y, dtype=np.float64).reshape(len(Y), -1)
        if Y.shape[1] != len(self.mean_[group]):
            raise InputError(f"group {group!r}: {Y.shape[1]} targets, the shared space has {len(self.mean_[group])}")
        return ((Y - self.mean_[group]) @ self.basis_[group]).astype(np.float32)

    def reconstruct(self, group: str, S) -> np.ndarray:
        """Shared coordinates (n, k) -> targets (n, ...) of ``group``."""
        S = np.asarray(S, dtype=np.float64)
        out = S @ self.basis_[group].T.astype(np.float64) + self.mean_[group]
        return out.astype(np.float32).reshape((len(S),) + tuple(self.target_shapes_[group]))

    def save(self, path) -> Path:
        """Write the shared space to an HDF5 file (atomically)."""
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["info"] = json.dumps(self.info_)
            for g in self.groups_:
                f[f"{g}/basis"], f[f"{g}/mean"] = self.basis_[g], self.mean_[g]
                f[g].attrs["target_shape"] = list(self.target_shapes_[g])
            f.attrs["groups"] = json.dumps(self.groups_)
        return Path(path)

    @classmethod
    def load(cls, path) -> SharedSpace:
        """Read a shared space written by ``save``."""
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise DataFormatError(f"{path} is not a ridge_decode shared space (format {f.attrs.get('format')!r})")
            self = cls()
            self.groups_ = json.loads(f.attrs["groups"])
            self.info_ = json.loads(f.attrs["info"])
            self.basis_ = {g: f[f"{g}/basis"][()] for g in self.groups_}
            self.mean_ = {g: f[f"{g}/mean"][()] for g in self.groups_}
            self.target_shapes_ = {g: tuple(int(d) for d in f[g].attrs["target_shape"]) for g in self.groups_}
        return self


class TransferRidge:
    """A new subject's output layer: ridge from its voxels into a frozen ``SharedSpace``.

    ``fit(X, targets)`` takes the new subject's voxels ``X`` (n, p) and targets {group: (n, ...)};
    ``predict(X)`` gives {group: (n_test, ...)} in the targets' units.

    Parameters
    ----------
    shared : SharedSpace
        The reference's frozen space (never modified).
    alphas : array-like of shape (A,)
        The ridge grid, positive and unitless, as for ``OneStageRidge``.
    device : str
        As for ``OneStageRidge``: "cpu", "cuda", or a himalaya backend's name ("numpy", "torch", "torch_cuda").
    backend : str or "deprecated"
        Deprecated since 0.2.0, removed in 0.3.0: ``device=backend`` (``fit`` warns).

    Attributes
    ----------
    model_ : OneStageRidge
        The ridge from voxels into the shared coordinates, (n, p) -> {group: (n, k)}.
    n_voxels_ : int
        p, the new subject's voxel count.
    """

    def __init__(self, shared: SharedSpace, alphas=DEFAULT_ALPHAS, device: str = "cpu", backend="deprecated"):
        self.shared = shared
        self.alphas = alphas
        self.device = device
        self.backend = backend

    def fit(self, X, targets: dict) -> TransferRidge:
        """Fit on the new subject's training voxels ``X`` (n, p) and targets {group: (n, ...)}."""
        unknown = [g for g in targets if g not in self.shared.groups_]
        if unknown:
            raise InputError(f"target groups {unknown} are not in the reference's shared space, which has "
                             f"{self.shared.groups_}: refit the reference with them")
        coords = {g: self.shared.project(g, Y) for g, Y in targets.items()}
        self.model_ = OneStageRidge(alphas=self.alphas, device=self.device, backend=self.backend).fit(X, coords)
        self.n_voxels_ = np.asarray(X).shape[1]
        return self

    def predict(self, X) -> dict[str, np.ndarray]:
        """Targets {group: (n_test, ...)} for the new subject's voxels ``X`` (n_test, p)."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_voxels_:
            raise InputError(f"X must be (n, {self.n_voxels_}) voxels of the subject this layer was fitted on; "
                             f"found shape {X.shape}")
        return {g: self.shared.reconstruct(g, S) for g, S in self.model_.predict(X).items()}

    def save(self, folder) -> Path:
        """``<folder>/shared.h5`` (the frozen part) and ``<folder>/layer.h5`` (this subject's ridge)."""
        folder = Path(folder)
        self.shared.save(folder / "shared.h5")
        self.model_.save(folder / "layer.h5")
        return folder

    @classmethod
    def load(cls, folder) -> TransferRidge:
        """Read a transfer model written by ``save``."""
        folder = Path(folder)
        shared = SharedSpace.load(folder / "shared.h5")
        model = OneStageRidge.load(folder / "layer.h5")
        self = cls(shared, alphas=model.alphas, device=model.device)
        self.model_ = model
        self.n_voxels_ = model.X_mean_.shape[0]
        return self


class PrincipalRidge:
    """Ridge with alpha chosen per principal direction of the targets, fitted on one subject alone.

    Each group's training targets (n, t) are centred and rotated onto all their principal directions
    (``SharedSpace.from_targets``: V, t x r, r = the rank of the centred targets, at most n - 1); a ``TransferRidge``
    fits the r coordinates, alpha per coordinate by GCV, and rotates its predictions back. With a single alpha this
    is exactly the per-target ridge (a ridge commutes with an orthogonal rotation of its targets): the only
    difference is where the regularisation is chosen, per direction of target space instead of per target column.
    Parameters as for ``OneStageRidge``. Fitted: ``shared_`` (the subject's own basis), ``layer_``.
    """

    def __init__(self, alphas=DEFAULT_ALPHAS, device: str = "cpu", backend="deprecated"):
        self.alphas = alphas
        self.device = device
        self.backend = backend

    def fit(self, X, targets: dict) -> PrincipalRidge:
        """Fit on training voxels ``X`` (n, p) and targets {group: (n, ...)}."""
        self.shared_ = SharedSpace.from_targets(targets, info={"reference": "self"})
        self.layer_ = TransferRidge(self.shared_, alphas=self.alphas, device=self.device,
                                    backend=self.backend).fit(X, targets)
        return self

    def predict(self, X) -> dict[str, np.ndarray]:
        """Targets {group: (n_test, ...)} for voxels ``X`` (n_test, p)."""
        return self.layer_.predict(X)
