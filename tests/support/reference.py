"""The bar a new project's first model is held to: a default HistGradientBoosting.

``python -m tests.support.reference`` (run in a project after ``make run``) fits scikit-learn's
HistGradientBoosting with its own defaults on the project's training split (categorical
features as pandas categories, ``categorical_features="from_dtype"``, the usual way to hand it
a table) and prints, as JSON, its test metrics beside the project's default model's
(``metrics/test.json``) and whether the default is within the goal: no worse than the
reference by more than 1% (relative) in ROC AUC or accuracy, or 2% in RMSE.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from tabpipe.core.config import Params, Task, load_params
from tabpipe.core.metrics import Predictions, scores
from tabpipe.core.model import encode_target, model_frame
from tabpipe.core.paths import PATHS

# metric -> (relative tolerance, higher is better)
GOALS = {"roc_auc": (0.01, True), "accuracy": (0.01, True), "rmse": (0.02, False)}


def reference_metrics(params: Params, train: pd.DataFrame, test: pd.DataFrame) -> dict[str, float]:
    task = params.data.task

    X_train = model_frame(train, params.features)
    X_test = model_frame(test, params.features)
    for name in params.features.categorical:
        seen = sorted(set(X_train[name]))
        X_train[name] = pd.Categorical(X_train[name], categories=seen)
        X_test[name] = pd.Categorical(X_test[name], categories=seen)  # unseen: missing
    y_train = encode_target(train[params.data.target], task)
    y_test = encode_target(test[params.data.target], task)
    seed = params.train.seed
    if task is Task.REGRESSION:
        model = HistGradientBoostingRegressor(categorical_features="from_dtype", random_state=seed)
        model.fit(X_train, y_train)
        return scores(task, Predictions(y_test, model.predict(X_test).astype(np.float64)))
    classifier = HistGradientBoostingClassifier(
        categorical_features="from_dtype", random_state=seed
    )
    classifier.fit(X_train, y_train)
    classes = tuple(str(c) for c in classifier.classes_)
    labels = classifier.predict(X_test).astype(str).astype(object)
    predictions = Predictions(y_test, labels, classifier.predict_proba(X_test), classes)
    return scores(task, predictions, params.data.positive_class)


def compare(default: dict[str, float], reference: dict[str, float]) -> dict[str, Any]:
    """Per goal metric both values, the relative gap (positive: the default is worse)."""
    rows = {}
    for metric, (tolerance, higher) in GOALS.items():
        if metric in default and metric in reference:
            gap = (reference[metric] - default[metric]) / abs(reference[metric])
            gap = gap if higher else -gap
            rows[metric] = {
                "default": default[metric],
                "reference": reference[metric],
                "worse_by": round(gap, 4),
                "within_goal": gap <= tolerance,
            }
    return rows


def table(lines: list[dict[str, Any]]) -> str:
    """docs/onboarding.md's results table from the e2e tests' report lines (one per dataset)."""
    out = [
        "| dataset | rows | task | default (test) | HistGradientBoosting (test) | worse by | "
        "its `make test` |",
        "|---|---:|---|---|---|---:|---|",
    ]
    for line in lines:
        goals = line["goals"]
        shown = " / ".join(f"{m} {g['default']:.4g}" for m, g in goals.items())
        reference = " / ".join(f"{m} {g['reference']:.4g}" for m, g in goals.items())
        worse = " / ".join(f"{g['worse_by']:+.1%}" for g in goals.values())
        suite = line.get("own_suite") or {}
        counts = ", ".join(f"{n} {k}" for k, n in suite.items() if k != "skips") or "not run"
        rows = line["rows"]["train"] + line["rows"]["test"]
        out.append(
            f"| {line['dataset']} | {rows:,} | {line['task']} | {shown} | {reference} | {worse} "
            f"| {counts} |"
        )
    return "\n".join(out)


def main(root: Path = Path(".")) -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--table":
        lines = [json.loads(t) for t in Path(sys.argv[2]).read_text().splitlines() if t.strip()]
        print(table(lines))
        return 0
    params = load_params(root / "params.yaml")
    train = pd.read_parquet(root / PATHS.train_split)
    test = pd.read_parquet(root / PATHS.test_split)
    default = json.loads((root / PATHS.test_metrics).read_text())
    reference = reference_metrics(params, train, test)
    print(
        json.dumps(
            {
                "task": params.data.task.value,
                "family": params.train.family,
                "rows": {"train": len(train), "test": len(test)},
                "default": default,
                "reference": reference,
                "goals": compare(default, reference),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
