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

import functools
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
    # Defaults are scikit-learn's: a new project starts from them (init writes them); params.yaml
    # may tune them for its data (the demo's: 15 leaves, l2 1.0).
    max_leaf_nodes: int | None = Field(31, ge=2, description="Leaves per tree (None: no limit).")
    max_depth: int | None = Field(None, gt=0)
    min_samples_leaf: int = Field(20, gt=0)
    l2_regularization: float = Field(0.0, ge=0)
    early_stopping: bool | Literal["auto"] = Field(
        "auto", description="auto: on above 10,000 rows (10% of the split held out to stop)."
    )
    # Not the estimator's: how the Pipeline feeds it categorical features (every other family
    # gets one-hot). init cross-validates both and writes the better one for your data.
    encode_categories: Literal["one_hot", "ordinal"] = Field(
        "one_hot",
        description="one_hot: a 0/1 column per category; ordinal: one column of category "
        "numbers, an unseen category as missing (better with many categories)",
    )


def hist_gradient_boosting(task: str, s: HistGradientBoostingSettings, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    options = s.model_dump(exclude={"encode_categories"})
    if task == "regression":
        return HistGradientBoostingRegressor(**options, random_state=seed)
    return HistGradientBoostingClassifier(**options, random_state=seed)


class LightGBMSettings(Settings):
    n_estimators: int = Field(200, gt=0)
    learning_rate: float = Field(0.05, gt=0)
    num_leaves: int = Field(15, ge=2)
    min_child_samples: int = Field(20, gt=0)
    reg_lambda: float = Field(1.0, ge=0)


def lightgbm(task: str, s: LightGBMSettings, seed: int) -> Any:
    from lightgbm import LGBMClassifier, LGBMRegressor

    cls = LGBMRegressor if task == "regression" else LGBMClassifier
    # LightGBM picks row- or column-wise histograms by timing them unless told: forcing one
    # (and deterministic) gives the same trees on every run and any thread count.
    return cls(
        **s.model_dump(), random_state=seed, deterministic=True, force_col_wise=True, verbose=-1
    )


def register_lightgbm() -> None:
    from lightgbm import LGBMClassifier, LGBMRegressor
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(
        LGBMClassifier,
        "LightGbmLGBMClassifier",
        calculate_linear_classifier_output_shapes,
        convert_lightgbm,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
    update_registered_converter(
        LGBMRegressor,
        "LightGbmLGBMRegressor",
        calculate_linear_regressor_output_shapes,
        convert_lightgbm,
        options={"split": None},
    )


class XGBoostSettings(Settings):
    n_estimators: int = Field(200, gt=0)
    learning_rate: float = Field(0.05, gt=0)
    max_depth: int = Field(4, gt=0)
    min_child_weight: float = Field(1.0, ge=0)
    reg_lambda: float = Field(1.0, ge=0)
    subsample: float = Field(1.0, gt=0, le=1)


@functools.cache
def labelled_xgb_classifier() -> type:
    """XGBClassifier that takes and returns the labels themselves.

    XGBoost trains on class indices 0..n-1 only; the pipeline's labels are strings. This
    subclass encodes them for ``fit`` and reports them as ``classes_``, so ``predict`` and
    the ONNX model (onnxmltools writes ``classes_`` as its labels) give the labels back.
    """
    import numpy as np
    from xgboost import XGBClassifier

    class LabelledXGBClassifier(XGBClassifier):  # type: ignore[misc]
        def fit(self, X: Any, y: Any, **kwargs: Any) -> Any:
            labels = np.unique(np.asarray(y))
            self.__dict__.pop("labels_", None)  # XGBoost's fit checks the indices' classes_
            super().fit(X, np.searchsorted(labels, np.asarray(y)), **kwargs)
            self.labels_ = labels
            return self

        @property
        def classes_(self) -> Any:
            if "labels_" in self.__dict__:
                return self.__dict__["labels_"]
            return np.arange(self.n_classes_)

        def predict(self, X: Any, **kwargs: Any) -> Any:
            return self.labels_[np.asarray(super().predict(X, **kwargs), dtype=int)]

    LabelledXGBClassifier.__module__ = __name__
    LabelledXGBClassifier.__qualname__ = "LabelledXGBClassifier"
    return LabelledXGBClassifier


def __getattr__(name: str) -> Any:
    """``LabelledXGBClassifier`` on first use, so that importing this module loads no XGBoost
    (a fitted model unpickles it from here)."""
    if name == "LabelledXGBClassifier":
        return labelled_xgb_classifier()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def xgboost(task: str, s: XGBoostSettings, seed: int) -> Any:
    from xgboost import XGBRegressor

    cls = XGBRegressor if task == "regression" else labelled_xgb_classifier()
    return cls(**s.model_dump(), random_state=seed, tree_method="hist")


def register_xgboost() -> None:
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )
    from xgboost import XGBRegressor

    update_registered_converter(
        labelled_xgb_classifier(),
        "XGBoostXGBClassifier",
        calculate_linear_classifier_output_shapes,
        convert_xgboost,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
    update_registered_converter(
        XGBRegressor,
        "XGBoostXGBRegressor",
        calculate_linear_regressor_output_shapes,
        convert_xgboost,
    )


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
    "lightgbm": Family(
        "LightGBM LGBMClassifier / LGBMRegressor (converted by onnxmltools)",
        LightGBMSettings,
        lightgbm,
        register_onnx=register_lightgbm,
    ),
    "xgboost": Family(
        "XGBoost XGBClassifier / XGBRegressor (hist trees; converted by onnxmltools)",
        XGBoostSettings,
        xgboost,
        register_onnx=register_xgboost,
    ),
}

# The family `init` writes into a new project's params.yaml.
DEFAULT_FAMILY = "hist_gradient_boosting"
