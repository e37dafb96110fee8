"""Stage train: the model converges, can overfit, is reproducible, and learns each task."""

import numpy as np
import pandas as pd
import pytest

from tabpipe.config import Family, Params, Task
from tabpipe.features import model_frame
from tabpipe.stage import StageFailed
from tabpipe.train import fit
from tests.factories import synthetic, synthetic_params


def with_train(params: Params, **train: object) -> Params:
    raw = params.model_dump(mode="json")
    for key, value in train.items():
        section, _, name = key.partition("__")
        if name:
            raw["train"][section][name] = value
        else:
            raw["train"][key] = value
    return Params.model_validate(raw)


def test_the_linear_model_converges_on_the_bundled_data(params, credit):
    model = fit(credit, with_train(params, family="linear"))
    assert model.named_steps["model"].n_iter_[0] < params.train.linear.max_iter


def test_a_model_that_does_not_converge_fails_the_stage(params, credit):
    with pytest.raises(StageFailed, match="did not converge"):
        fit(credit, with_train(params, family="linear", linear__max_iter=2))


def test_the_model_can_overfit_a_tiny_sample(params, credit):
    tiny = credit.groupby("Status").head(20).reset_index(drop=True)
    tuned = with_train(
        params,
        family="random_forest",
        random_forest__max_depth=None,
        random_forest__min_samples_leaf=1,
    )
    model = fit(tiny, tuned)
    predicted = model.predict(model_frame(tiny, params.features))
    assert (predicted == tiny["Status"].to_numpy()).mean() == 1.0


def test_the_same_seed_gives_the_same_model_and_another_seed_does_not(params, credit):
    sample = credit.sample(800, random_state=0)
    forest = with_train(params, family="random_forest", random_forest__n_estimators=20)
    X = model_frame(sample, params.features)
    first = fit(sample, forest).predict_proba(X)
    again = fit(sample, forest).predict_proba(X)
    other = fit(sample, with_train(forest, seed=forest.train.seed + 1)).predict_proba(X)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_single_class_target_is_refused(params, credit):
    only_good = credit[credit.Status == "good"]
    with pytest.raises(StageFailed, match="single class"):
        fit(only_good, params)


@pytest.mark.parametrize("family", list(Family))
@pytest.mark.parametrize("task", list(Task))
def test_every_family_learns_every_task_better_than_a_constant(task, family):
    frame = synthetic(task.value, rows=500)
    params = synthetic_params(task.value, family.value)
    train, test = frame.iloc[:400], frame.iloc[400:]
    model = fit(train, params)
    predicted = model.predict(model_frame(test, params.features))
    if task is Task.REGRESSION:
        residual = ((test.y - predicted) ** 2).mean()
        assert residual < 0.5 * test.y.var()
    else:
        baseline = test.y.value_counts(normalize=True).max()
        assert (predicted == test.y.to_numpy()).mean() > baseline + 0.1
        assert np.isfinite(model.predict_proba(model_frame(test, params.features))).all()


def test_missing_values_in_features_do_not_produce_nan_predictions(params, credit):
    model = fit(credit.sample(600, random_state=1), params)
    holes = credit.head(50).copy()
    holes[params.features.numeric] = np.nan
    holes[params.features.categorical] = None
    proba = model.predict_proba(model_frame(holes, params.features))
    assert np.isfinite(proba).all()
    assert isinstance(holes, pd.DataFrame)
