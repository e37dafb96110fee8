"""Model families and the full scikit-learn Pipeline (preprocessing + estimator).

Gradient boosting is scikit-learn's ``GradientBoosting*``, not ``HistGradientBoosting*``:
skl2onnx 1.20 fails to convert the latter's trees (see docs/decisions.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

from tabpipe.config import Family, FeatureParams, Task, TrainParams
from tabpipe.features import preprocessor


def estimator(task: Task, train: TrainParams) -> BaseEstimator:
    hp: dict[str, Any] = train.hyperparameters()
    seed = train.seed
    if train.family is Family.LINEAR:
        if task.is_classification:
            return LogisticRegression(C=hp["C"], max_iter=hp["max_iter"], random_state=seed)
        return Ridge(alpha=hp["alpha"], max_iter=hp["max_iter"], random_state=seed)
    if train.family is Family.RANDOM_FOREST:
        cls = RandomForestClassifier if task.is_classification else RandomForestRegressor
        return cls(**hp, random_state=seed, n_jobs=1)
    cls = GradientBoostingClassifier if task.is_classification else GradientBoostingRegressor
    return cls(**hp, random_state=seed)


def pipeline(task: Task, features: FeatureParams, train: TrainParams) -> Pipeline:
    scale = train.family is Family.LINEAR
    return Pipeline(
        [
            ("preprocess", preprocessor(features, scale_numeric=scale)),
            ("model", estimator(task, train)),
        ]
    )


def encode_target(y: pd.Series, task: Task) -> np.ndarray:
    """Labels as strings for classification (ONNX returns string labels), floats otherwise."""
    if task.is_classification:
        return y.astype(str).to_numpy(dtype=object)
    return pd.to_numeric(y, errors="raise").to_numpy(dtype=np.float64)
