"""Stage train: the model converges, can overfit, is reproducible, and learns each task."""

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from tabpipe.core.config import Params, Task
from tabpipe.core.model import encode_target, model_frame, preprocessor
from tabpipe.core.stage import StageFailed
from tabpipe.pipeline import train as train_stage
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


def directly(params: Params, estimator: object) -> Pipeline:
    """The project's preprocessing with an estimator built here, not from the registry: a
    machinery test must not depend on which families the user keeps."""
    steps = preprocessor(params.features, scale_numeric=False, derived=params.features.expressions)
    return Pipeline([("preprocess", steps), ("model", estimator)])


def separable(frame: pd.DataFrame, params: Params, rows: int = 40) -> pd.DataFrame:
    """A tiny sample no model can be blamed for not fitting exactly: rows whose features,
    as the model sees them, are identical but whose labels differ are left out.

    The sample is drawn from rows distinct as the model sees them (the first thousands of the
    table), not from its first rows: a table of person-years of coarse features (statsmodels'
    RAND health data) repeats its first rows and kept 3 of its first 40.
    """
    target = params.data.target
    pool = _consistent_first_rows(frame.head(5000).reset_index(drop=True), params)
    if params.data.task.is_classification:
        sample = pool.groupby(target).head(rows // 2)
    else:
        sample = pool.head(rows)
    return _consistent_first_rows(sample.reset_index(drop=True), params)


def _consistent_first_rows(frame: pd.DataFrame, params: Params) -> pd.DataFrame:
    """The first of each group of rows the preprocessing (fitted on ``frame``) maps to the
    same features, for groups whose labels agree."""
    target = params.data.target
    seen = directly(params, None).steps[0][1].fit_transform(model_frame(frame, params.features))
    keys = pd.Series([row.tobytes() for row in np.asarray(seen, dtype=np.float64)])
    labels = frame[target].astype(str)
    consistent = labels.groupby(keys).transform("nunique") == 1
    first = ~keys.duplicated()
    return frame[consistent & first].reset_index(drop=True)


def test_the_model_can_overfit_a_tiny_sample(params, raw):
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    tiny = separable(raw, params)
    target = params.data.target
    assert len(tiny) >= 10, "the sample keeps enough distinct rows"
    tree = DecisionTreeRegressor if params.data.task is Task.REGRESSION else DecisionTreeClassifier
    model = directly(params, tree(random_state=0))
    X, y = model_frame(tiny, params.features), encode_target(tiny[target], params.data.task)
    predicted = model.fit(X, y).predict(X)
    if params.data.task.is_classification:
        assert (predicted == y).mean() == 1.0
    else:
        np.testing.assert_allclose(predicted, y, rtol=1e-6)


def test_the_same_seed_gives_the_same_model_and_another_seed_does_not(params, raw):
    """For a registered family whose seed changes the model (one is picked by that property)."""
    sample = raw.sample(min(800, len(raw)), random_state=0)
    X = model_frame(sample, params.features)
    for family in params.code.families:
        if family == "linear":
            continue  # deterministic whatever the seed
        settings = {"random_forest__n_estimators": 20} if family == "random_forest" else {}
        chosen = with_train(params, family=family, **settings)
        first = outputs(fit(sample, chosen), X)
        other = outputs(fit(sample, with_train(chosen, seed=chosen.train.seed + 1)), X)
        if not np.array_equal(first, other):
            np.testing.assert_array_equal(first, outputs(fit(sample, chosen), X))
            return
    pytest.skip("not applicable: no registered family's model changes with its seed")


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


def test_gradient_boosting_logs_its_progress_without_changing_the_model(capsys, monkeypatch):
    from sklearn.ensemble import GradientBoostingClassifier

    params = synthetic_params("binary")
    estimator = GradientBoostingClassifier(n_estimators=8, random_state=0)
    monkeypatch.setattr(train_stage, "pipeline", lambda p: directly(p, estimator))
    model = fit(synthetic("binary"), params)
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
def test_hist_gradient_boosting_logs_its_progress_without_changing_the_model(
    task, capsys, monkeypatch
):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    params = synthetic_params(task)
    hgb = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    built = hgb(max_iter=8, early_stopping=False, random_state=0)
    monkeypatch.setattr(train_stage, "pipeline", lambda p: directly(p, built))
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
    train_stage.float32_thresholds(plain.named_steps["model"])  # fit's deliberate last step
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


def test_a_long_hist_gradient_boosting_fit_shows_an_iteration_every_ten_seconds(monkeypatch):
    """Between the quarters, one line per PROGRESS_EVERY seconds: on 10M rows the first 25
    of 100 iterations took 45 s with nothing shown. The clock is the test's own."""
    import io

    clock = [100.0]
    monkeypatch.setattr(train_stage.time, "perf_counter", lambda: clock[0])
    out = io.StringIO()
    progress = train_stage._HistProgress(out)
    for done, seconds in [(1, 4), (2, 4), (3, 4), (4, 1), (5, 12), (25, 1), (26, 9), (27, 0.5)]:
        clock[0] += seconds
        progress.write(f"[{done}/100] 1 tree, 31 leaves, max depth = 9, in 0.5s\n")
    shown = [line.split(" (")[0] for line in out.getvalue().splitlines()]
    assert shown == [
        "[train] 3/100 boosting iterations",  # 12 s after the start
        "[train] 5/100 boosting iterations",  # 13 s after iteration 3
        "[train] 25/100 boosting iterations",  # a quarter; then 9.5 s: none yet
    ], shown
    assert "3/100 boosting iterations (12.0s)" in out.getvalue()  # seconds since the start
