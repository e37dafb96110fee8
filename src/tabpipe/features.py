"""Feature engineering: the raw-feature frame the model sees, and its preprocessing.

The preprocessing lives inside the scikit-learn Pipeline so the exported ONNX model
takes raw features. The only step outside it is :func:`model_frame`, a type convention
shared by training, the ONNX parity check and serving: numeric features as float32
(ONNX's tensor type; scikit-learn trees split on float32 anyway) and categorical
features as strings with missing values as ``""`` (ONNX string tensors have no NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tabpipe.config import FeatureParams

MISSING_CATEGORY = ""


def model_frame(frame: pd.DataFrame, features: FeatureParams) -> pd.DataFrame:
    """Select the features in order and give them the model's input types."""
    missing = [name for name in features.all if name not in frame.columns]
    if missing:
        raise KeyError(f"feature columns not in the data: {missing}")
    out = pd.DataFrame(index=frame.index)
    for name in features.numeric:
        out[name] = pd.to_numeric(frame[name], errors="raise").astype(np.float32)
    for name in features.categorical:
        column = frame[name].astype(object)
        out[name] = column.where(column.notna(), MISSING_CATEGORY).astype(str).astype(object)
    return out


def preprocessor(features: FeatureParams, *, scale_numeric: bool) -> ColumnTransformer:
    """Median-impute (and optionally standardise) numbers; one-hot encode categories.

    Scaling is only for linear models: tree ensembles do not need it, and float32
    rounding of scaled values would make ONNX and scikit-learn split differently.
    """
    numeric_steps: list[tuple[str, object]] = [("impute", SimpleImputer(strategy="median"))]
    if scale_numeric:
        numeric_steps.append(("scale", StandardScaler()))
    transformers = []
    if features.numeric:
        transformers.append(("numeric", Pipeline(numeric_steps), list(features.numeric)))
    if features.categorical:
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        transformers.append(("categorical", encoder, list(features.categorical)))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
