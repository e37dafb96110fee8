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
from tabpipe.core.io import (
    parquet_rows,
    read_parquet,
    release_arrow_memory,
    write_json,
    write_with,
)
from tabpipe.core.metrics import (
    Predictions,
    confusion_rows,
    precision_recall_points,
    prediction_points,
    roc_points,
    scores,
    slice_scores,
)
from tabpipe.core.model import (
    encode_target,
    labels_and_probabilities,
    model_frame,
    preprocessed,
)
from tabpipe.core.paths import PATHS
from tabpipe.core.stage import StageFailed, log, run_stage

PLOT_FILES = {
    "confusion": "confusion.csv",
    "roc": "roc.csv",
    "precision_recall": "precision_recall.csv",
    "predictions": "predictions.csv",
}


# Rows predicted at a time. The preprocessed features are dense float64 (a column per
# category with one-hot encoding): on 800,000 rows of 30 numbers and 5 twelve-category
# columns, predicting them at once peaked at 1.5 GiB above the stage's start and took
# 15.9 s, in chunks of this many rows 0.3 GiB and 13.0 s (10M rows: docs/benchmarks.md).
# Each row's prediction is its own, so the chunks give the same predictions as one call.
CHUNK_ROWS = 100_000


def predict(model: Pipeline, frame: pd.DataFrame, params: Params) -> Predictions:
    y_true = encode_target(frame[params.data.target], params.data.task)
    regression = params.data.task is Task.REGRESSION
    labels, probabilities = [], []
    with threads.sized_for(len(frame)):  # the thread count for all the rows, not a chunk
        for start in range(0, max(len(frame), 1), CHUNK_ROWS):
            X = model_frame(frame.iloc[start : start + CHUNK_ROWS], params.features)
            estimator, features = preprocessed(model, X)  # once, for both outputs
            if regression:
                labels.append(estimator.predict(features))
            else:
                predicted, chunk_proba = labels_and_probabilities(estimator, features)
                labels.append(predicted)
                probabilities.append(chunk_proba)
    y_pred = np.concatenate(labels)
    proba = np.concatenate(probabilities) if probabilities else None
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
    train_rows, test_rows = parquet_rows(PATHS.train_split), parquet_rows(PATHS.test_split)
    log("evaluate", f"predicting on {train_rows} train and {test_rows} test rows")
    started = time.perf_counter()
    # The train split is read, predicted and let go before the test split is read: only
    # its predictions are kept (the metrics need no more), not its rows.
    train_p = predict(model, read_parquet(PATHS.train_split), params)
    release_arrow_memory()
    log("evaluate", f"train split predicted ({time.perf_counter() - started:.1f}s)")
    test = read_parquet(PATHS.test_split)
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
