"""Your model families: one entry in ``FAMILIES`` each; params.yaml picks one.

An entry has:

- ``settings``: its hyperparameters, which become its section in params.yaml
  (``train.<family>``) and are checked strictly: an unknown key or a wrong type stops the
  pipeline with a message naming the key. Every setting needs a default.
- ``estimator``: builds the unfitted scikit-learn estimator for a task (``"binary"``,
  ``"multiclass"`` or ``"regression"``) from the settings and the seed.
- ``scale_numeric``: standardise numeric features first (linear models need it; trees
  must not have it, since float32 rounding of scaled values would move their splits).
- ``register_onnx``: for an estimator skl2onnx cannot convert by itself, a function that
  registers its converter (called once before export); None otherwise.

Adding a family is one entry here and, if its defaults do not suit, its section in
params.yaml. Estimator classes are imported inside the factories so that the stages that
fit nothing (gate, profile, the report) start without loading scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    """A family's hyperparameters: strict, immutable, every field with a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Family:
    summary: str
    settings: type[Settings]
    estimator: Callable[[str, Any, int], Any]  # (task, settings, seed) -> unfitted estimator
    scale_numeric: bool = False
    register_onnx: Callable[[], None] | None = None


class LinearSettings(Settings):
    C: float = Field(1.0, gt=0, description="Inverse regularisation (classification).")
    alpha: float = Field(1.0, ge=0, description="Ridge penalty (regression).")
    max_iter: int = Field(1000, gt=0)


def linear(task: str, s: LinearSettings, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    if task == "regression":
        return Ridge(alpha=s.alpha, max_iter=s.max_iter, random_state=seed)
    return LogisticRegression(C=s.C, max_iter=s.max_iter, random_state=seed)


class RandomForestSettings(Settings):
    n_estimators: int = Field(200, gt=0)
    max_depth: int | None = Field(None, gt=0)
    min_samples_leaf: int = Field(1, gt=0)


def random_forest(task: str, s: RandomForestSettings, seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestRegressor if task == "regression" else RandomForestClassifier
    return cls(**s.model_dump(), random_state=seed, n_jobs=1)


class GradientBoostingSettings(Settings):
    n_estimators: int = Field(200, gt=0)
    learning_rate: float = Field(0.05, gt=0)
    max_depth: int = Field(3, gt=0)
    subsample: float = Field(1.0, gt=0, le=1)


def gradient_boosting(task: str, s: GradientBoostingSettings, seed: int) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

    cls = GradientBoostingRegressor if task == "regression" else GradientBoostingClassifier
    return cls(**s.model_dump(), random_state=seed)


class HistGradientBoostingSettings(Settings):
    max_iter: int = Field(100, gt=0, description="Boosting iterations (trees per class).")
    learning_rate: float = Field(0.1, gt=0)
    max_leaf_nodes: int | None = Field(15, ge=2, description="Leaves per tree (None: no limit).")
    max_depth: int | None = Field(None, gt=0)
    min_samples_leaf: int = Field(20, gt=0)
    l2_regularization: float = Field(1.0, ge=0)
    early_stopping: bool | Literal["auto"] = Field(
        "auto", description="auto: on above 10,000 rows (10% of the split held out to stop)."
    )


def hist_gradient_boosting(task: str, s: HistGradientBoostingSettings, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if task == "regression":
        return HistGradientBoostingRegressor(**s.model_dump(), random_state=seed)
    return HistGradientBoostingClassifier(**s.model_dump(), random_state=seed)


FAMILIES: dict[str, Family] = {
    "hist_gradient_boosting": Family(
        "HistGradientBoostingClassifier / HistGradientBoostingRegressor (binned trees, fast)",
        HistGradientBoostingSettings,
        hist_gradient_boosting,
    ),
    "linear": Family(
        "LogisticRegression (classification) / Ridge (regression)",
        LinearSettings,
        linear,
        scale_numeric=True,
    ),
    "random_forest": Family(
        "RandomForestClassifier / RandomForestRegressor", RandomForestSettings, random_forest
    ),
    "gradient_boosting": Family(
        "GradientBoostingClassifier / GradientBoostingRegressor (exact trees)",
        GradientBoostingSettings,
        gradient_boosting,
    ),
}

# The family `init` writes into a new project's params.yaml.
DEFAULT_FAMILY = "hist_gradient_boosting"
