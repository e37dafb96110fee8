"""Stage train: the model converges, can overfit, is reproducible, and learns each task."""

import numpy as np
import pytest

from tabpipe.core.config import Params
from tabpipe.core.model import model_frame
from tabpipe.core.stage import StageFailed
from tabpipe.pipeline.train import fit
from tests.support.factories import synthetic, synthetic_params


def with_train(params: Params, **train: object) -> Params:
    """A copy of params with train settings changed (``family__name=value`` for nested)."""
    raw = params.model_dump(mode="json")
    for key, value in train.items():
        section, _, name = key.partition("__")
        if name:
            raw["train"][section][name] = value
        else:
            raw["train"][key] = value
    return Params.model_validate(raw)


def outputs(model, X) -> np.ndarray:
    """Probabilities for classifiers, predictions for regressors."""
    return model.predict_proba(X) if hasattr(model, "predict_proba") else model.predict(X)


def test_the_linear_classifier_converges():
    params = synthetic_params("binary", "linear")
    model = fit(synthetic("binary"), params)
    assert model.named_steps["model"].n_iter_[0] < params.train.linear.max_iter


def test_a_model_that_does_not_converge_fails_the_stage():
    params = with_train(synthetic_params("binary", "linear"), linear__max_iter=1)
    with pytest.raises(StageFailed, match="did not converge"):
        fit(synthetic("binary"), params)


def test_the_configured_model_trains_on_the_project_data(params, raw):
    model = fit(raw, params)
    assert np.isfinite(np.asarray(outputs(model, model_frame(raw, params.features)), float)).all()


def test_the_model_can_overfit_a_tiny_sample(params, raw):
    target = params.data.target
    if params.data.task.is_classification:
        tiny = raw.groupby(target).head(20).reset_index(drop=True)
    else:
        tiny = raw.head(40).reset_index(drop=True)
    tuned = with_train(
        params,
        family="random_forest",
        random_forest__max_depth=None,
        random_forest__min_samples_leaf=1,
    )
    predicted = fit(tiny, tuned).predict(model_frame(tiny, params.features))
    if params.data.task.is_classification:
        assert (predicted == tiny[target].astype(str).to_numpy()).mean() == 1.0
    else:
        actual = tiny[target].to_numpy(dtype=float)
        r2 = 1 - ((actual - predicted) ** 2).sum() / ((actual - actual.mean()) ** 2).sum()
        assert r2 > 0.9


def test_the_same_seed_gives_the_same_model_and_another_seed_does_not(params, raw):
    sample = raw.sample(min(800, len(raw)), random_state=0)
    forest = with_train(params, family="random_forest", random_forest__n_estimators=20)
    X = model_frame(sample, params.features)
    first = outputs(fit(sample, forest), X)
    again = outputs(fit(sample, forest), X)
    other = outputs(fit(sample, with_train(forest, seed=forest.train.seed + 1)), X)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_single_class_target_is_refused():
    frame = synthetic("binary")
    with pytest.raises(StageFailed, match="single class"):
        fit(frame[frame.y == "yes"], synthetic_params("binary"))


def test_missing_values_in_features_do_not_produce_nan_predictions(params, raw):
    model = fit(raw.sample(min(600, len(raw)), random_state=1), params)
    holes = raw.head(50).copy()
    for name in params.features.numeric:
        holes[name] = np.nan
    for name in params.features.categorical:
        holes[name] = None
    out = outputs(model, model_frame(holes, params.features))
    assert np.isfinite(np.asarray(out, dtype=float)).all()


def test_gradient_boosting_logs_its_progress_without_changing_the_model(capsys):
    params = with_train(
        synthetic_params("binary", "gradient_boosting"), gradient_boosting__n_estimators=8
    )
    frame = synthetic("binary")
    model = fit(frame, params)
    lines = [line for line in capsys.readouterr().out.splitlines() if "boosting" in line]
    assert [line.split(" (")[0] for line in lines] == [
        "[train] 2/8 boosting iterations",
        "[train] 4/8 boosting iterations",
        "[train] 6/8 boosting iterations",
    ]
    assert model.named_steps["model"].n_estimators_ == 8  # the monitor never stops it early


def trees(model) -> list[np.ndarray]:
    """Every node of every tree of a fitted HistGradientBoosting, as arrays."""
    return [tree.nodes for per_iteration in model._predictors for tree in per_iteration]


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_hist_gradient_boosting_logs_its_progress_without_changing_the_model(task, capsys):
    params = with_train(
        synthetic_params(task, "hist_gradient_boosting"), hist_gradient_boosting__max_iter=8
    )
    frame = synthetic(task)
    model = fit(frame, params)
    out = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0] for line in out if "boosting iterations" in line] == [
        "[train] 2/8 boosting iterations",
        "[train] 4/8 boosting iterations",
        "[train] 6/8 boosting iterations",
    ]
    assert any(line.startswith("[train] Fit ") for line in out), out  # sklearn's summary
    assert not any(line.startswith("[") and "/8]" in line for line in out)  # raw lines dropped

    # The same estimator fitted without the progress hook: the same trees, bit for bit.
    from sklearn.base import clone

    estimator = model.named_steps["model"]
    assert estimator.verbose == 0  # restored: the pickled model does not print
    plain = clone(model)
    X = model_frame(frame, params.features)
    y = frame.y.astype(str).to_numpy(dtype=object) if task != "regression" else frame.y
    plain.fit(X, y)
    assert capsys.readouterr().out == ""
    for fitted, reference in zip(trees(estimator), trees(plain.named_steps["model"]), strict=True):
        assert fitted.tobytes() == reference.tobytes()
    np.testing.assert_array_equal(outputs(model, X), outputs(plain, X))


@pytest.mark.parametrize("family", ["hist_gradient_boosting", "lightgbm", "xgboost"])
def test_the_pickled_model_is_the_same_whatever_the_thread_count(family):
    """model.joblib's md5 is in dvc.lock: a machine with more CPUs must not change it."""
    import io

    import joblib
    from threadpoolctl import threadpool_limits

    params = synthetic_params("multiclass", family)
    frame = synthetic("multiclass", rows=600)
    pickled = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads):
            buffer = io.BytesIO()
            joblib.dump(fit(frame, params), buffer)
            pickled.append(buffer.getvalue())
    assert pickled[0] == pickled[1]
