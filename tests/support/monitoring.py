"""Helpers for the monitoring tests: a reference profile and a small champion from the raw data.

Both are built from the project's own raw table and params, so the tests hold after
``tabpipe init`` onboards another dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa

from tabpipe.core.config import Params
from tabpipe.core.io import write_bytes, write_json
from tabpipe.core.metrics import scores
from tabpipe.core.onnx_model import convert, with_metadata
from tabpipe.monitoring.simulate import (
    CHANGED_LABEL_SHARE,
    continuous_features,
    simulate,
    write_batch,
)
from tabpipe.pipeline import export
from tabpipe.pipeline.evaluate import predict
from tabpipe.pipeline.profile import profile_frame
from tabpipe.pipeline.split import split_frame
from tabpipe.pipeline.train import fit


def splits(
    raw: pd.DataFrame, params: Params, schema: pa.DataFrameSchema
) -> tuple[pd.DataFrame, pd.DataFrame]:
    valid = schema.validate(raw)
    return split_frame(
        valid,
        params.data.target,
        params.split,
        classification=params.data.task.is_classification,
    )


def write_profile(
    raw: pd.DataFrame, params: Params, schema: pa.DataFrameSchema, path: Path
) -> dict[str, Any]:
    """The reference profile of the training split, as the profile stage writes it."""
    train, _ = splits(raw, params, schema)
    drift = params.monitor.drift
    profile = profile_frame(
        train, params.features, bins=drift.bins, histogram=drift.histogram, source="train"
    )
    write_json(path, profile)
    return profile


def quick_params(params: Params) -> Params:
    """The project's params with a linear model: trains in about a second."""
    train = params.train.model_copy(update={"family": "linear"})
    return params.model_copy(update={"train": train})


def write_champion(
    raw: pd.DataFrame, params: Params, schema: pa.DataFrameSchema, path: Path
) -> dict[str, float]:
    """Train, evaluate and export a champion with its test metrics in its metadata."""
    quick = quick_params(params)
    train, test = splits(raw, quick, schema)
    model = fit(train, quick)
    test_metrics = scores(quick.data.task, predict(model, test, quick), quick.data.positive_class)
    proto = convert(model, quick.features, quick.data.task, quick.export.opset)
    inputs = [i.name for i in proto.graph.input]
    proto = with_metadata(proto, export.metadata(model, quick, test_metrics, inputs))
    write_bytes(path, proto.SerializeToString())
    return test_metrics


# What a guess that ignores the features scores.
GUESS = {"roc_auc": 0.5, "r2": 0.0}


def worse_feedback_guard(params: Params, champion: dict[str, float]) -> dict[str, float]:
    """A degradation threshold that feedback with a third of its labels changed crosses.

    Changing a share of the labels takes away about that share of the champion's margin over
    a guess (ROC AUC over 0.5, R² over 0) or more (flipped binary labels: twice it), so the
    threshold is half of that share, and at most 0.1. statsmodels' RAND health data: a quick
    champion at R² 0.070 fell to -0.001, short of a fixed 0.1. Where that share of the margin
    is within the sampling noise of 1,000 rows (0.02), the test is not applicable.
    """
    import pytest

    metric = "roc_auc" if params.data.task.is_classification else "r2"
    if metric not in champion:
        pytest.skip(f"not applicable: the champion records no {metric} on its test split")
    taken = CHANGED_LABEL_SHARE * (champion[metric] - GUESS[metric])
    if taken < 0.02:
        pytest.skip(
            f"not applicable: the champion beats a guess by {champion[metric] - GUESS[metric]:.3f}"
            f" in {metric}; changing {CHANGED_LABEL_SHARE:.0%} of the labels takes away less than "
            "the sampling noise of 1,000 rows"
        )
    return {metric: round(min(0.1, taken / 2), 4)}


def write_simulated(
    raw: pd.DataFrame,
    params: Params,
    schema: pa.DataFrameSchema,
    path: Path,
    kind: str,
    *,
    rows: int = 1000,
    seed: int = 0,
    labelled: bool = True,
) -> list[str]:
    """A simulated batch written to ``path``; returns what the simulation changed."""
    result = simulate(raw, params, schema, kind=kind, rows=rows, seed=seed, labelled=labelled)
    write_batch(result.frame, path)
    return result.changed


def with_drift_thresholds(
    params: Params, numeric: float = 0.03, categorical: float = 0.12
) -> Params:
    """Drift thresholds on every feature (an onboarded project starts with none, as in TFDV).

    A little wider than the template's (0.02 / 0.1) so that small onboarded datasets, whose
    training split is itself a noisy reference, stay quiet on clean batches.
    """
    thresholds = {name: numeric for name in params.features.numeric}
    thresholds |= {name: categorical for name in params.features.categorical}
    drift = params.monitor.drift.model_copy(update={"thresholds": thresholds})
    monitor = params.monitor.model_copy(update={"drift": drift})
    return params.model_copy(update={"monitor": monitor})


def drift_kind(raw: pd.DataFrame, params: Params) -> str:
    """The simulated drift this project can show: numeric when a feature is continuous
    enough for simulate to shift (at least 20 distinct values), else categorical.

    A table of discrete numbers only (statsmodels' fair: years married, children, age in a
    few values each) has numeric features but none to shift.
    """
    if continuous_features(raw, params):
        return "drift-numeric"
    if any(raw[name].dropna().nunique() >= 2 for name in params.features.categorical):
        return "drift-categorical"
    import pytest

    pytest.skip(
        "not applicable: no continuous numeric feature (20 or more values) and no categorical "
        "feature with two values for a simulated drift to move"
    )
