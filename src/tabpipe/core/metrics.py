"""Pure metric and plot-data functions: arrays in, plain dicts and frames out.

numpy, pandas and scikit-learn are imported by the functions that compute: the PR report,
the gate and the monitors read the metric-direction table below without loading them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tabpipe.core.config import Task

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# Which way each metric the evaluate stage writes is better: the one table the PR report,
# the degradation check and the gate's suggested thresholds read.
HIGHER_IS_BETTER = frozenset({"accuracy", "precision", "recall", "f1", "f1_macro", "roc_auc", "r2"})
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})
KNOWN_METRICS = HIGHER_IS_BETTER | LOWER_IS_BETTER


@dataclass(frozen=True)
class Predictions:
    """What a model said about some rows: labels (or values) and class probabilities."""

    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray | None = None  # (n_rows, n_classes), columns in ``classes`` order
    classes: tuple[str, ...] = ()

    def subset(self, mask: np.ndarray) -> Predictions:
        proba = None if self.proba is None else self.proba[mask]
        return Predictions(self.y_true[mask], self.y_pred[mask], proba, self.classes)


def scores(task: Task, p: Predictions, positive_class: str | None = None) -> dict[str, float]:
    """The task's metrics. Raises ValueError if any metric is NaN or infinite."""
    import numpy as np
    from sklearn import metrics as skm

    if task is Task.REGRESSION:
        result = {
            "rmse": float(np.sqrt(skm.mean_squared_error(p.y_true, p.y_pred))),
            "mae": float(skm.mean_absolute_error(p.y_true, p.y_pred)),
            "r2": float(skm.r2_score(p.y_true, p.y_pred)) if len(p.y_true) > 1 else math.nan,
        }
    else:
        result = _classification(task, p, positive_class)
    result = {
        name: round(value, 6) for name, value in result.items() if not _undefined(name, value)
    }
    bad = {name: value for name, value in result.items() if not math.isfinite(value)}
    if bad:
        raise ValueError(f"non-finite metrics: {bad}")
    return result


# Metrics that are left out where they are undefined, rather than reported as a lie; the
# gate says why when a threshold names one that a slice lacks.
UNDEFINED_WHEN = {
    "roc_auc": "ROC AUC is undefined unless the rows hold every class (here they do not: "
    "e.g. a slice whose rows all have one label)",
    "r2": "R² is undefined on a single row",
}


def _undefined(name: str, value: float) -> bool:
    return name in UNDEFINED_WHEN and math.isnan(value)


def label_codes(p: Predictions) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted labels as integer codes: a class's position in ``p.classes``,
    then any other label seen.

    scikit-learn's classification metrics sort the labels they are given; on millions of
    Python strings that takes minutes, on integers a fraction of a second. The codes rename
    the labels one to one, so every metric keeps the value it has on the strings.
    """
    import pandas as pd

    known = list(p.classes)
    seen = set(pd.unique(p.y_true)) | set(pd.unique(p.y_pred))
    table = pd.Index(known + sorted(seen - set(known), key=str), dtype=object)
    return table.get_indexer(p.y_true), table.get_indexer(p.y_pred)


def _classification(task: Task, p: Predictions, positive_class: str | None) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics as skm

    assert p.proba is not None
    y_true, y_pred = label_codes(p)
    labels = list(range(len(p.classes)))
    present = set(np.unique(y_true).tolist())
    result = {"accuracy": float(skm.accuracy_score(y_true, y_pred))}
    if task is Task.BINARY:
        assert positive_class is not None
        positive_code = list(p.classes).index(positive_class)
        result["precision"] = float(
            skm.precision_score(y_true, y_pred, pos_label=positive_code, zero_division=0)
        )
        result["recall"] = float(
            skm.recall_score(y_true, y_pred, pos_label=positive_code, zero_division=0)
        )
        result["f1"] = float(skm.f1_score(y_true, y_pred, pos_label=positive_code, zero_division=0))
        positive = p.proba[:, positive_code]
        result["roc_auc"] = (
            float(skm.roc_auc_score(y_true == positive_code, positive))
            if len(present) == 2
            else math.nan
        )
    else:
        result["f1_macro"] = float(
            skm.f1_score(y_true, y_pred, average="macro", labels=labels, zero_division=0)
        )
        result["roc_auc"] = (
            float(skm.roc_auc_score(y_true, p.proba, multi_class="ovr", labels=labels))
            if present == set(labels)
            else math.nan
        )
    result["log_loss"] = float(skm.log_loss(y_true, np.clip(p.proba, 1e-15, 1), labels=labels))
    return result


def slice_scores(
    task: Task,
    p: Predictions,
    slice_values: pd.Series,
    positive_class: str | None,
    min_size: int,
) -> dict[str, dict[str, float | int]]:
    """Metrics for each value of a categorical feature with at least ``min_size`` rows."""
    values = slice_values.astype(object).where(slice_values.notna(), "(missing)").astype(str)
    out: dict[str, dict[str, float | int]] = {}
    for value, count in values.value_counts().sort_index().items():
        if count < min_size:
            continue
        mask = (values == value).to_numpy()
        out[str(value)] = {"rows": int(count), **scores(task, p.subset(mask), positive_class)}
    return out


# plots/ is committed (DVC does not cache it): its files must not grow with the rows. A
# curve keeps at most this many of its points, a scatter this many of its rows (at 10M
# rows the full files were 48 MB: 2M confusion rows, 1.3M and 1.1M curve points).
CURVE_POINTS = 2_000
SCATTER_ROWS = 5_000
# plots/confusion.csv's count column: what the PR report (tabpipe.ci.charts) and the DVC
# template .dvc/plots/confusion_counts.json sum.
CONFUSION_COUNT = "rows"


def confusion_rows(p: Predictions) -> pd.DataFrame:
    """How many rows have each (actual, predicted) pair, the pairs in sorted order.

    One line per pair instead of one per row, its count in :data:`CONFUSION_COUNT`.
    """
    import pandas as pd

    pairs = pd.DataFrame({"actual": p.y_true, "predicted": p.y_pred})
    counts = pairs.value_counts(sort=False).sort_index()
    return counts.rename(CONFUSION_COUNT).reset_index()


def thinned(curve: pd.DataFrame, x: str, y: str, points: int = CURVE_POINTS) -> pd.DataFrame:
    """At most ``points`` of a curve's own points, evenly spaced along its length.

    A curve with no more points is returned as it is. Otherwise the path from the first
    point to the last (steps of |dx| + |dy|) is cut into ``points - 2`` equal lengths and
    the first point in each is kept, with the last point: no point of the curve lies
    farther than one length (2 / 1,998 for a ROC curve, whose path is at most 2 long)
    along the path from a kept one, so a chart or an area drawn through them is the curve's.
    """
    import numpy as np

    if len(curve) <= points:
        return curve
    xs, ys = curve[x].to_numpy(dtype=float), curve[y].to_numpy(dtype=float)
    along = np.concatenate([[0.0], np.cumsum(np.abs(np.diff(xs)) + np.abs(np.diff(ys)))])
    total = along[-1]
    piece = np.floor(along / total * (points - 2)) if total > 0 else np.zeros(len(curve))
    keep = np.concatenate([[True], piece[1:] != piece[:-1]])
    keep[-1] = True
    return curve[keep].reset_index(drop=True)


def roc_points(p: Predictions, positive_class: str) -> pd.DataFrame:
    import numpy as np
    import pandas as pd
    from sklearn import metrics as skm

    assert p.proba is not None
    score = p.proba[:, list(p.classes).index(positive_class)]
    fpr, tpr, thresholds = skm.roc_curve(p.y_true == positive_class, score)
    frame = pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": thresholds})
    return thinned(frame.replace([np.inf, -np.inf], 1.0).round(6), "fpr", "tpr")


def precision_recall_points(p: Predictions, positive_class: str) -> pd.DataFrame:
    import pandas as pd
    from sklearn import metrics as skm

    assert p.proba is not None
    score = p.proba[:, list(p.classes).index(positive_class)]
    precision, recall, _ = skm.precision_recall_curve(p.y_true == positive_class, score)
    frame = pd.DataFrame({"recall": recall, "precision": precision}).round(6)
    return thinned(frame, "recall", "precision")


def prediction_points(p: Predictions, rows: int = SCATTER_ROWS) -> pd.DataFrame:
    """Actual and predicted values of the test rows; of every k-th row where there are more
    than ``rows`` (the test split is shuffled, so they are a sample of it)."""
    import pandas as pd

    every = max(1, -(-len(p.y_true) // rows))  # ceiling: at most ``rows`` rows
    frame = pd.DataFrame({"actual": p.y_true[::every], "predicted": p.y_pred[::every]})
    return frame.round(6)
