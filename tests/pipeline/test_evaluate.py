"""Stage evaluate: metric definitions, slices, plot data, and refusal of non-finite output."""

import math

import numpy as np
import pandas as pd
import pytest

from tabpipe.core import metrics
from tabpipe.core.config import Task
from tabpipe.core.metrics import Predictions, scores, slice_scores, thinned
from tabpipe.core.stage import StageFailed
from tabpipe.pipeline.evaluate import plot_frames, predict
from tests.support.factories import synthetic_params

BINARY = Predictions(
    y_true=np.array(["bad", "good", "bad", "good"], dtype=object),
    y_pred=np.array(["bad", "good", "good", "good"], dtype=object),
    proba=np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]]),
    classes=("bad", "good"),
)


def test_binary_metrics_use_the_positive_class():
    result = scores(Task.BINARY, BINARY, positive_class="bad")
    assert result["accuracy"] == 0.75
    assert result["precision"] == 1.0
    assert result["recall"] == 0.5
    assert result["f1"] == pytest.approx(2 / 3, abs=1e-6)
    assert result["roc_auc"] == 1.0
    expected_loss = -np.mean(np.log([0.9, 0.8, 0.4, 0.7]))
    assert result["log_loss"] == pytest.approx(expected_loss, abs=1e-6)


def test_multiclass_metrics():
    p = Predictions(
        np.array(["a", "b", "c"], dtype=object),
        np.array(["a", "b", "b"], dtype=object),
        np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.5, 0.4]]),
        ("a", "b", "c"),
    )
    result = scores(Task.MULTICLASS, p)
    assert result["accuracy"] == pytest.approx(2 / 3, abs=1e-6)
    assert set(result) == {"accuracy", "f1_macro", "roc_auc", "log_loss"}


def test_regression_metrics():
    p = Predictions(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    result = scores(Task.REGRESSION, p)
    assert result["mae"] == pytest.approx(2 / 3, abs=1e-6)
    assert result["rmse"] == pytest.approx(math.sqrt(4 / 3), abs=1e-6)
    assert result["r2"] == pytest.approx(1 - 4 / 2, abs=1e-6)


def test_roc_auc_is_left_out_not_faked_when_a_slice_has_one_class():
    one_class = BINARY.subset(np.array([True, False, True, False]))
    assert "roc_auc" not in scores(Task.BINARY, one_class, positive_class="bad")


def test_non_finite_metrics_are_an_error():
    p = Predictions(np.array([1.0, 2.0]), np.array([np.nan, 2.0]))
    with pytest.raises(ValueError):
        scores(Task.REGRESSION, p)


def test_slices_smaller_than_the_minimum_are_left_out():
    values = pd.Series(["x", "x", "x", None])
    result = slice_scores(Task.BINARY, BINARY, values, "bad", min_size=2)
    assert list(result) == ["x"]
    assert result["x"]["rows"] == 3
    with_missing = slice_scores(Task.BINARY, BINARY, values, "bad", min_size=1)
    assert "(missing)" in with_missing


@pytest.mark.parametrize(
    ("task", "files"),
    [
        (Task.BINARY, {"confusion", "roc", "precision_recall"}),
        (Task.MULTICLASS, {"confusion"}),
        (Task.REGRESSION, {"predictions"}),
    ],
)
def test_each_task_gets_its_plots(task, files):
    if task is Task.REGRESSION:
        p = Predictions(np.array([1.0, 2.0]), np.array([1.5, 2.5]))
    else:
        p = BINARY
    frames = plot_frames(task, p, "bad" if task is Task.BINARY else None)
    assert set(frames) == files
    for frame in frames.values():
        assert len(frame) > 0
        assert np.isfinite(frame.select_dtypes("number").to_numpy()).all()


def _many_predictions(rows: int, seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    good = rng.random(rows) < 0.7
    score = np.clip(rng.normal(np.where(good, 0.65, 0.4), 0.2), 0, 1)  # distinct scores
    proba = np.column_stack([1 - score, score])
    return Predictions(
        np.where(good, "good", "bad").astype(object),
        np.where(score > 0.5, "good", "bad").astype(object),
        proba,
        ("bad", "good"),
    )


def test_plot_files_do_not_grow_with_the_rows():
    p = _many_predictions(200_000)
    confusion = metrics.confusion_rows(p)
    assert len(confusion) == 4 and confusion["rows"].sum() == 200_000
    crossed = pd.crosstab(p.y_true, p.y_pred)
    for pair in confusion.itertuples():
        assert pair.rows == crossed.loc[pair.actual, pair.predicted]
    roc, pr = metrics.roc_points(p, "good"), metrics.precision_recall_points(p, "good")
    assert 1_000 < len(roc) <= metrics.CURVE_POINTS and 1_000 < len(pr) <= metrics.CURVE_POINTS
    # The thinned curves are the curves: same ends, same area.
    full_auc = scores(Task.BINARY, p, "good")["roc_auc"]
    assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(full_auc, abs=1e-4)
    assert (roc.iloc[0]["fpr"], roc.iloc[-1]["fpr"], roc.iloc[-1]["tpr"]) == (0.0, 1.0, 1.0)
    assert (pr.iloc[0]["recall"], pr.iloc[-1]["recall"]) == (1.0, 0.0)
    values = Predictions(np.arange(50_000.0), np.arange(50_000.0) * 2)
    scatter = metrics.prediction_points(values)
    assert 0.9 * metrics.SCATTER_ROWS < len(scatter) <= metrics.SCATTER_ROWS
    assert (scatter["predicted"] == 2 * scatter["actual"]).all()


def test_a_curve_with_few_points_is_kept_whole_and_a_long_one_keeps_its_shape():
    small = pd.DataFrame({"x": [0.0, 0.5, 1.0], "y": [0.0, 0.9, 1.0]})
    assert thinned(small, "x", "y", points=3) is small
    t = np.linspace(0, 1, 100_001)
    curve = pd.DataFrame({"x": t, "y": np.sqrt(t)})
    kept = thinned(curve, "x", "y", points=500)
    assert len(kept) <= 500 and kept.iloc[-1]["x"] == 1.0 and kept.iloc[0]["x"] == 0.0
    # Every dropped point lies close to the chord between the kept points around it.
    between = np.interp(curve["x"], kept["x"], kept["y"])
    assert np.abs(between - curve["y"]).max() < 2 * 2 / 500
    flat = pd.DataFrame({"x": np.zeros(10), "y": np.zeros(10)})  # no length at all
    assert len(thinned(flat, "x", "y", points=4)) == 2


class NaNModel:
    classes_ = np.array(["no", "yes"])

    def predict(self, X):
        return np.array(["no"] * len(X))

    def predict_proba(self, X):
        return np.full((len(X), 2), np.nan)


def test_nan_probabilities_fail_the_stage():
    params = synthetic_params("binary")
    frame = pd.DataFrame({"x1": [1.0], "x2": [2.0], "colour": ["red"], "y": ["yes"]})
    with pytest.raises(StageFailed, match="NaN"):
        predict(NaNModel(), frame, params)


def _string_metrics(
    p: Predictions, task: Task, positive: str | None, auc: bool = True
) -> dict[str, float]:
    """scikit-learn's metrics on the labels as strings: what scores() must reproduce."""
    from sklearn import metrics as skm

    labels = list(p.classes)
    out = {"accuracy": skm.accuracy_score(p.y_true, p.y_pred)}
    if task is Task.BINARY:
        for name, metric in (
            ("precision", skm.precision_score),
            ("recall", skm.recall_score),
            ("f1", skm.f1_score),
        ):
            out[name] = metric(p.y_true, p.y_pred, pos_label=positive, zero_division=0)
        if auc:
            column = p.proba[:, labels.index(positive)]
            out["roc_auc"] = skm.roc_auc_score(p.y_true == positive, column)
    else:
        out["f1_macro"] = skm.f1_score(
            p.y_true, p.y_pred, average="macro", labels=labels, zero_division=0
        )
        if auc:
            out["roc_auc"] = skm.roc_auc_score(p.y_true, p.proba, multi_class="ovr", labels=labels)
    out["log_loss"] = skm.log_loss(p.y_true, np.clip(p.proba, 1e-15, 1), labels=labels)
    return {name: round(float(value), 6) for name, value in out.items()}


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTICLASS])
def test_metrics_on_label_codes_equal_the_metrics_on_the_strings(task):
    rng = np.random.default_rng(3)
    classes = ("bad", "good") if task is Task.BINARY else ("a", "b", "c")
    proba = rng.dirichlet(np.ones(len(classes)), size=500)
    y_true = np.asarray(classes, dtype=object)[rng.integers(0, len(classes), size=500)]
    y_pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    p = Predictions(y_true, y_pred, proba, classes)
    positive = "bad" if task is Task.BINARY else None
    assert scores(task, p, positive) == _string_metrics(p, task, positive)
    # A class the model never predicts, another absent from the truth (ROC AUC undefined).
    y_pred = np.where(y_pred == classes[-1], classes[0], y_pred).astype(object)
    y_true = np.where(y_true == classes[0], classes[-1], y_true).astype(object)
    p = Predictions(y_true, y_pred, proba, classes)
    assert scores(task, p, positive) == _string_metrics(p, task, positive, auc=False)


@pytest.mark.parametrize("task", ["binary", "regression"])
@pytest.mark.parametrize("chunk_rows", [7, 100_000], ids=["in chunks", "in one chunk"])
def test_predictions_are_the_pipelines_own(task, chunk_rows, monkeypatch):
    # 300 rows in chunks of 7: 42 full chunks and a last one of 6 rows.
    from tabpipe.core.model import model_frame
    from tabpipe.pipeline import evaluate
    from tabpipe.pipeline.train import fit
    from tests.support.factories import synthetic

    monkeypatch.setattr(evaluate, "CHUNK_ROWS", chunk_rows)
    params = synthetic_params(task)
    frame = synthetic(task, rows=300)
    model = fit(frame, params)
    p = predict(model, frame, params)
    X = model_frame(frame, params.features)
    assert len(p.y_pred) == len(frame)
    if task == "regression":
        np.testing.assert_array_equal(p.y_pred, model.predict(X))
        assert p.proba is None
    else:
        assert (p.y_pred == model.predict(X).astype(str)).all()
        np.testing.assert_array_equal(p.proba, model.predict_proba(X))
