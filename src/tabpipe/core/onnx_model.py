"""Converting the Pipeline to ONNX and running it in onnxruntime.

Inputs are one tensor per raw feature, named after it: float32 for numeric features,
string for categorical ones (missing = ""). Outputs are ``label`` and, for classifiers,
``probabilities`` as a plain (n_rows, n_classes) tensor (``zipmap`` off); regressors
output ``variable``.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.pipeline import Pipeline

from tabpipe.core import threads
from tabpipe.core.config import FeatureParams, Params, Task
from tabpipe.core.derived import register_converter
from tabpipe.core.model import model_frame

# ai.onnx.ml opset 3 stores tree thresholds with full precision.
ML_OPSET = 3
GRAPH_NAME = "tabpipe"


def prepare(params: Params) -> None:
    """Register the converters this project's model needs: derived columns, its family's."""
    register_converter()
    hook = params.code.family(params.train.family).register_onnx
    if hook is not None:
        hook()


class NotConvertible(Exception):
    """skl2onnx has no converter for a step of the model; the message says which and what to do."""


def convert(model: Pipeline, features: FeatureParams, task: Task, opset: int) -> onnx.ModelProto:
    """The Pipeline as ONNX; :class:`NotConvertible` when skl2onnx knows no converter for it."""
    from skl2onnx.common.exceptions import MissingConverter, MissingShapeCalculator

    try:
        return _convert(model, features, task, opset)
    except (MissingConverter, MissingShapeCalculator) as exc:
        steps = getattr(model, "steps", [])
        unknown = type(steps[-1][1]).__name__ if steps else type(model).__name__
        raise NotConvertible(
            f"skl2onnx has no converter for {unknown} ({str(exc).splitlines()[0]}). Give the "
            "family a register_onnx hook that registers one (skl2onnx's "
            "update_registered_converter; onnxmltools has them for LightGBM, XGBoost, "
            "CatBoost), or choose a family that converts"
        ) from None


def _convert(model: Pipeline, features: FeatureParams, task: Task, opset: int) -> onnx.ModelProto:
    register_converter()
    initial_types: list[tuple[str, Any]] = [
        (name, FloatTensorType([None, 1])) for name in features.numeric
    ] + [(name, StringTensorType([None, 1])) for name in features.categorical]
    options = {id(model): {"zipmap": False}} if task.is_classification else None
    with warnings.catch_warnings():
        # skl2onnx 1.20 passes numpy bools as HistGradientBoosting's missing-value flags;
        # protobuf 6 warns, protobuf 7 refuses (hence protobuf<7 in pyproject.toml).
        warnings.filterwarnings("ignore", "Field onnx.AttributeProto.ints", DeprecationWarning)
        proto = convert_sklearn(
            model,
            initial_types=initial_types,
            options=options,
            target_opset={"": opset, "ai.onnx.ml": ML_OPSET},
        )
    # The same model must give the same bytes, so that a rebuilt model.onnx has the md5
    # dvc.lock recorded (the release needs it). skl2onnx names the graph with a random UUID,
    # and lists the opsets in set order, which changes with Python's hash seed per process.
    proto.graph.name = GRAPH_NAME
    opsets = sorted((o.domain, o.version) for o in proto.opset_import)
    del proto.opset_import[:]
    for domain, version in opsets:
        proto.opset_import.add(domain=domain, version=version)
    return proto


def with_metadata(proto: onnx.ModelProto, metadata: dict[str, Any]) -> onnx.ModelProto:
    """Attach metadata properties; non-string values are stored as JSON."""
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key = key
        entry.value = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return proto


def session(model_bytes: bytes, intra_op_threads: int | None = None) -> ort.InferenceSession:
    """A CPU session with the process's thread settings, or exactly ``intra_op_threads``.

    A tree ensemble's sum over trees is split between the intra-op threads, so the last bits
    of its output depend on their number: pass 1 where the output must be reproducible.
    """
    options = threads.onnxruntime_options(ort.SessionOptions())
    if intra_op_threads is not None:
        options.intra_op_num_threads = intra_op_threads
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def input_names(sess: ort.InferenceSession) -> list[str]:
    """The graph's input names, in feature order (numeric, then categorical).

    skl2onnx sanitises names (``"Length (mm)"`` becomes ``"Length__mm_"``), so inputs are
    matched to features by position, which :func:`convert` fixes.
    """
    return [i.name for i in sess.get_inputs()]


def feeds(
    frame: pd.DataFrame, features: FeatureParams, names: list[str] | None = None
) -> dict[str, np.ndarray]:
    """One input array per feature, keyed by the graph's input names (default: feature names)."""
    typed = model_frame(frame, features)
    names = names or features.all
    if len(names) != len(features.all):
        raise ValueError(
            f"the model has {len(names)} inputs but params list {len(features.all)} features"
        )
    out: dict[str, np.ndarray] = {}
    for name, feature in zip(names, features.all, strict=True):
        numeric = feature in features.numeric
        values = typed[feature].to_numpy(np.float32 if numeric else object)
        out[name] = values.reshape(-1, 1)
    return out


@dataclass(frozen=True)
class OnnxPredictions:
    labels: np.ndarray  # class labels (str) or regression values (float)
    proba: np.ndarray | None


def run(
    sess: ort.InferenceSession, frame: pd.DataFrame, features: FeatureParams
) -> OnnxPredictions:
    results = sess.run(None, feeds(frame, features, input_names(sess)))
    outputs = {o.name: value for o, value in zip(sess.get_outputs(), results, strict=True)}
    if "probabilities" in outputs:
        return OnnxPredictions(np.asarray(outputs["label"]).astype(str), outputs["probabilities"])
    return OnnxPredictions(np.asarray(outputs["variable"], dtype=np.float64).ravel(), None)
