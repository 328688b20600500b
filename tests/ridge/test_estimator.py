"""``RidgeGCV``: scikit-learn's own estimator checks, pickling, agreement with ``OneStageRidge``, and the docs'
example (a Pipeline under ``cross_val_score(n_jobs=2)``)."""

import pickle
import re
from pathlib import Path

import joblib
import numpy as np
from sklearn.utils.estimator_checks import parametrize_with_checks

from ridge_decode import RidgeGCV
from ridge_decode.ridge import OneStageRidge

REPO = Path(__file__).resolve().parents[2]


@parametrize_with_checks([RidgeGCV()])
def test_scikit_learn_checks(estimator, check):
    check(estimator)


def _data(n=150, p=60, t=25, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    Y = X @ rng.standard_normal((p, t)) * 0.2 + rng.standard_normal((n, t))
    return X, Y


def test_pickle_and_joblib_round_trips_give_identical_predictions(tmp_path):
    X, Y = _data()
    model = RidgeGCV().fit(X[:100], Y[:100])
    again = pickle.loads(pickle.dumps(model))
    joblib.dump(model, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    for m in (again, loaded):
        np.testing.assert_array_equal(m.predict(X[100:]), model.predict(X[100:]))
        np.testing.assert_array_equal(m.alpha_, model.alpha_)


def test_same_alphas_and_predictions_as_one_stage_ridge():
    X, Y = _data()
    for alpha_per in ("target", "group"):
        est = RidgeGCV(alpha_per=alpha_per).fit(X[:100], Y[:100])
        ref = OneStageRidge(alpha_per=alpha_per).fit(X[:100], {"y": Y[:100]})
        np.testing.assert_array_equal(est.alphas_, ref.alphas_["y"])  # the same code on the same data
        np.testing.assert_array_equal(est.cv_scores_, ref.cv_scores_["y"])
        # float64 products against the float32 ones of the same stored model: float32 rounding of the latter
        np.testing.assert_allclose(est.predict(X[100:]), ref.predict(X[100:])["y"], rtol=1e-4, atol=1e-5)
    one = RidgeGCV().fit(X[:100], Y[:100, 0])
    assert one.predict(X[100:]).shape == (50,) and isinstance(one.alpha_, float)


def test_the_docs_example_runs():
    text = (REPO / "docs" / "ridge.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "cross_val_score" in b)
    namespace = {}
    exec(compile(block, "docs/ridge.md", "exec"), namespace)  # noqa: S102 - the documented example, as written
    scores = namespace["scores"]
    assert scores.shape == (5,) and (scores > 0).all()  # the planted linear map is found in every fold
