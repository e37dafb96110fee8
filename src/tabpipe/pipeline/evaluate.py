"""Stage ``evaluate``: train and test metrics, per-slice metrics, and plot data for DVC."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from tabpipe.core import threads
from tabpipe.core.config import Params, Task
from tabpipe.core.io import write_json, write_with
from tabpipe.core.metrics import (
    Predictions,
    confusion_rows,
    precision_recall_points,
    prediction_points,
    roc_points,
    scores,
    slice_scores,
)
from tabpipe.core.model import encode_target, model_frame, preprocessed
from tabpipe.core.paths import PATHS
from tabpipe.core.stage import StageFailed, log, run_stage

PLOT_FILES = {
    "confusion": "confusion.csv",
    "roc": "roc.csv",
    "precision_recall": "precision_recall.csv",
    "predictions": "predictions.csv",
}


def predict(model: Pipeline, frame: pd.DataFrame, params: Params) -> Predictions:
    X = model_frame(frame, params.features)
    y_true = encode_target(frame[params.data.target], params.data.task)
    estimator, features = preprocessed(model, X)  # the preprocessing once, for both calls
    with threads.sized_for(len(X)):
        y_pred = estimator.predict(features)
        proba = None if params.data.task is Task.REGRESSION else estimator.predict_proba(features)
    if proba is None:
        if not np.isfinite(y_pred.astype(float)).all():
            raise StageFailed("the model predicted NaN or infinite values")
        return Predictions(y_true, y_pred.astype(np.float64))
    if not np.isfinite(proba).all():
        raise StageFailed("the model predicted NaN or infinite probabilities")
    classes = tuple(str(c) for c in model.classes_)
    return Predictions(y_true, y_pred.astype(str).astype(object), proba, classes)


def plot_frames(task: Task, p: Predictions, positive_class: str | None) -> dict[str, pd.DataFrame]:
    if task is Task.REGRESSION:
        return {"predictions": prediction_points(p)}
    frames = {"confusion": confusion_rows(p)}
    if task is Task.BINARY:
        assert positive_class is not None
        frames["roc"] = roc_points(p, positive_class)
        frames["precision_recall"] = precision_recall_points(p, positive_class)
    return frames


def _csv_writer(frame: pd.DataFrame) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        frame.to_csv(path, index=False)

    return write


def _body(params: Params) -> None:
    model = joblib.load(PATHS.model)
    task, positive = params.data.task, params.data.positive_class
    train = pd.read_parquet(PATHS.train_split)
    test = pd.read_parquet(PATHS.test_split)
    log("evaluate", f"predicting on {len(train)} train and {len(test)} test rows")
    started = time.perf_counter()
    train_p = predict(model, train, params)
    log("evaluate", f"train split predicted ({time.perf_counter() - started:.1f}s)")
    test_p = predict(model, test, params)
    log("evaluate", f"test split predicted ({time.perf_counter() - started:.1f}s); metrics")
    try:
        train_scores, test_scores = scores(task, train_p, positive), scores(task, test_p, positive)
        slices = {
            name: slice_scores(task, test_p, test[name], positive, params.evaluate.min_slice_size)
            for name in params.evaluate.slice_by
        }
    except ValueError as exc:
        raise StageFailed(str(exc)) from exc
    write_json(PATHS.train_metrics, train_scores)
    write_json(PATHS.test_metrics, test_scores)
    write_json(PATHS.slice_metrics, slices)
    shutil.rmtree(PATHS.plots_dir, ignore_errors=True)
    for name, frame in plot_frames(task, test_p, positive).items():
        write_with(PATHS.plots_dir / PLOT_FILES[name], _csv_writer(frame))
    shown = ", ".join(f"{k}={v:.4f}" for k, v in test_scores.items())
    log("evaluate", f"test: {shown}")


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage("evaluate", __doc__ or "", _body, argv)


if __name__ == "__main__":
    sys.exit(main())
