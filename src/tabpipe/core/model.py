"""The scikit-learn Pipeline a project trains: its input frame, preprocessing and estimator.

The preprocessing lives inside the Pipeline so the exported ONNX model takes raw features.
The only step outside it is :func:`model_frame`, a type convention shared by training, the
ONNX parity check and serving: numeric features as float32 (ONNX's tensor type;
scikit-learn trees split on float32 anyway) and categorical features as strings with
missing values as ``""`` (ONNX string tensors have no NaN).

The estimator comes from the project's family registry (``src/<package>/models.py``, see
:mod:`tabpipe.core.project`); derived columns from ``features.derived`` in params.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from tabpipe.core.config import FeatureParams, Params, Task
from tabpipe.core.derived import DerivedColumns, inputs_of
from tabpipe.core.expressions import Expression

MISSING_CATEGORY = ""


def _one_hot() -> OneHotEncoder:
    # An unknown category is all zeros.
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False)


def _ordinal() -> OrdinalEncoder:
    # Categories numbered in sorted order; an unknown one is NaN, which a tree that handles
    # missing values sends down its learnt missing-value branch. skl2onnx converts both
    # encoders; HistGradientBoosting's native categorical splits it does not (see
    # docs/decisions.md), and sklearn's TargetEncoder only for binary and regression.
    return OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=np.nan, dtype=np.float32
    )


# How categorical features reach the estimator: one-hot unless the family's settings have an
# ``encode_categories`` (HistGradientBoosting's; see docs/decisions.md).
ENCODERS = {"one_hot": _one_hot, "ordinal": _ordinal}


def category_encoding(params: Params) -> str:
    """The key of :data:`ENCODERS` the chosen family's settings ask for."""
    return str(getattr(params.train.settings(), "encode_categories", "one_hot"))


def model_frame(frame: pd.DataFrame, features: FeatureParams) -> pd.DataFrame:
    """Select the features in order and give them the model's input types."""
    missing = [name for name in features.all if name not in frame.columns]
    if missing:
        raise KeyError(f"feature columns not in the data: {missing}")
    out = pd.DataFrame(index=frame.index)
    for name in features.numeric:
        out[name] = pd.to_numeric(frame[name], errors="raise").astype(np.float32)
    for name in features.categorical:
        out[name] = category_strings(frame[name])
    return out


def category_strings(column: pd.Series) -> pd.Series:
    """A categorical feature as the model's strings: ``str(value)``, missing as ``""``.

    Booleans become ``"True"``/``"False"`` (a boolean is a two-category feature: its missing
    value stays a category of its own, and the ONNX input keeps one type for every
    category). Integer codes become ``"1"``, ``"2"``, also when a reader stored them as
    floats because some are missing (``2.0`` would otherwise be ``"2.0"``, a category the
    model never saw), so the data, the service's JSON integers and batch files agree.

    A typed column (strings, categories, numbers, booleans) is converted once per distinct
    value and the result spread to the rows by code: the same strings as converting each
    row, several times faster on millions of rows, and one shared object per value. An
    ``object`` column may mix types that compare equal (``3`` and ``3.0``, which print
    differently), so it is converted row by row.
    """
    if (
        pd.api.types.is_float_dtype(column)
        and np.isfinite(column.dropna()).all()
        and (column.dropna() == np.round(column.dropna())).all()
    ):
        column = column.astype("Int64")
    if column.dtype == object:
        return column.where(column.notna(), MISSING_CATEGORY).astype(str).astype(object)
    codes, uniques = pd.factorize(column)  # missing values get code -1
    labels = pd.Series(uniques).astype(object).astype(str).to_numpy(dtype=object)
    table = np.append(labels, MISSING_CATEGORY).astype(object)
    return pd.Series(table[codes], index=column.index, dtype=object)


def _numeric_steps(scale_numeric: bool) -> list[tuple[str, Any]]:
    # keep_empty_features: a column missing in every training row (a derived column that is
    # always undefined, a feature empty in the split) is imputed with 0 instead of dropped;
    # scikit-learn would drop it and the ONNX graph would not, and parity would fail.
    imputer = SimpleImputer(strategy="median", keep_empty_features=True)
    steps: list[tuple[str, Any]] = [("impute", imputer)]
    if scale_numeric:
        steps.append(("scale", StandardScaler()))
    return steps


def preprocessor(
    features: FeatureParams,
    *,
    scale_numeric: bool,
    derived: Mapping[str, Expression] | None = None,
    encode_categories: str = "one_hot",
) -> ColumnTransformer:
    """Median-impute (and optionally standardise) numbers; encode categories (``ENCODERS``).

    Derived columns are computed from the numeric columns they read, then imputed (and
    scaled) like the raw numbers. Scaling is only for linear models: tree ensembles do not
    need it, and float32 rounding of scaled values would make ONNX and scikit-learn split
    differently.
    """
    transformers: list[tuple[str, Any, list[str]]] = []
    if features.numeric:
        numeric = Pipeline(_numeric_steps(scale_numeric))
        transformers.append(("numeric", numeric, list(features.numeric)))
    if derived:
        inputs = inputs_of(derived)
        compute = DerivedColumns({name: e.text for name, e in derived.items()}, inputs)
        steps = [("compute", compute), *_numeric_steps(scale_numeric)]
        transformers.append(("derived", Pipeline(steps), inputs))
    if features.categorical:
        encoder = ENCODERS[encode_categories]()
        transformers.append(("categorical", encoder, list(features.categorical)))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def estimator(params: Params) -> Any:
    """The chosen family's unfitted estimator for the task, from the project's registry."""
    family = params.code.family(params.train.family)
    task, settings, seed = params.data.task.value, params.train.settings(), params.train.seed
    return family.estimator(task, settings, seed)


def pipeline(params: Params) -> Pipeline:
    family = params.code.family(params.train.family)
    preprocess = preprocessor(
        params.features,
        scale_numeric=family.scale_numeric,
        derived=params.features.expressions,
        encode_categories=category_encoding(params),
    )
    return Pipeline([("preprocess", preprocess), ("model", estimator(params))])


def preprocessed(model: Any, X: pd.DataFrame) -> tuple[Any, Any]:
    """The final estimator and ``X`` through the Pipeline's other steps.

    ``estimator.predict(features)`` is what ``model.predict(X)`` computes (likewise
    ``predict_proba``); a caller that needs both runs the preprocessing once, which on
    millions of rows costs as much as the estimator's own predictions. A model that is not
    a Pipeline is returned with ``X`` as it is.
    """
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        return model[-1], model[:-1].transform(X)
    return model, X


def labels_and_probabilities(estimator: Any, features: Any) -> tuple[np.ndarray, np.ndarray]:
    """``estimator.predict(features)`` and ``estimator.predict_proba(features)``, bit for bit,
    from one pass over the trees where the estimator computes both from the same scores.

    HistGradientBoostingClassifier's two methods each sum every tree's leaves for every row
    (``_raw_predict``) and then apply their own rule: ``predict`` takes the class whose score
    is largest (for two classes, the second where the score is above 0), ``predict_proba``
    its loss's inverse link. Called one after the other, the trees are walked twice: on 8M
    training rows that was about 15 s of evaluate's 55 s (docs/benchmarks.md, the scale
    section). scikit-learn has no public call that returns both, so this applies the two
    rules to one ``_raw_predict`` (private; tests/core/test_model.py compares the result
    with the two public calls on every task, so a release that changes them fails there).
    Any other estimator: its two methods.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier  # loaded with the model

    if type(estimator) is not HistGradientBoostingClassifier:
        return estimator.predict(features), estimator.predict_proba(features)
    raw = estimator._raw_predict(features)
    two_classes = raw.shape[1] == 1  # one score per row: above 0 is the second class
    encoded = (raw.ravel() > 0).astype(int) if two_classes else np.argmax(raw, axis=1)
    return estimator.classes_[encoded], estimator._loss.predict_proba(raw)


def encode_target(y: pd.Series, task: Task) -> np.ndarray:
    """Labels as strings for classification (ONNX returns string labels), floats otherwise."""
    if task.is_classification:
        return y.astype(str).to_numpy(dtype=object)
    return pd.to_numeric(y, errors="raise").to_numpy(dtype=np.float64)
