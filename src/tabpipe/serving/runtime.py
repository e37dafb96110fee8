"""A released model at run time: ``model.onnx`` plus ``model.json``, and predictions.

``model.json`` (written by ``tabpipe bundle``) describes the model: its registry version,
provenance, metrics, gate verdict and the serving signature derived from the data
contract (each feature's kind, nullability, range and allowed categories). Loading checks
that the metadata belongs to this very ``model.onnx`` (md5) and that the graph's inputs
match the signature, so a mismatched pair never starts serving.

Rows are plain mappings of feature name to value, already validated: numbers (or None
where the contract allows nulls), categories (strings, or integers for integer codes) and
booleans. The model takes a category or a boolean as a string, as it was trained
(:func:`tabpipe.core.model.model_frame`): ``str(value)``, so ``True`` is ``"True"`` and the
code ``2`` is ``"2"``, and None is ``""``, the missing category.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from tabpipe.core import threads  # stdlib only, like dvcfiles: in the serving image
from tabpipe.core.dvcfiles import file_md5  # stdlib only: the serving image carries it

METADATA_FILE = "model.json"
MODEL_FILE = "model.onnx"
MISSING_CATEGORY = ""
FLOAT32_MAX = float(np.finfo(np.float32).max)
# A boolean is a two-category feature of the model: JSON true/false in, "True"/"False" fed.
ONNX_TYPES = {
    "numeric": "tensor(float)",
    "categorical": "tensor(string)",
    "boolean": "tensor(string)",
}
Category = str | int  # integer codes keep their type in requests


class ModelLoadError(Exception):
    """The model or its metadata cannot be served; the message says which file and why."""


@dataclass(frozen=True)
class Feature:
    name: str
    onnx_input: str
    kind: str  # numeric | categorical | boolean
    nullable: bool
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[Category, ...] = ()

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Feature:
        kind = str(raw["kind"])
        if kind not in ONNX_TYPES:
            raise ModelLoadError(f"feature {raw.get('name')!r}: unknown kind {kind!r}")
        return cls(
            name=str(raw["name"]),
            onnx_input=str(raw.get("onnx_input") or raw["name"]),
            kind=kind,
            nullable=bool(raw.get("nullable", False)),
            minimum=None if raw.get("minimum") is None else float(raw["minimum"]),
            maximum=None if raw.get("maximum") is None else float(raw["maximum"]),
            categories=tuple(_category(c) for c in raw.get("categories") or ()),
        )


def _category(value: Any) -> Category:
    return value if isinstance(value, int) and not isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class Prediction:
    label: str | None
    probabilities: dict[str, float] | None
    value: float | None

    def to_dict(self) -> dict[str, Any]:
        if self.value is not None:
            return {"value": self.value}
        return {"label": self.label, "probabilities": self.probabilities}


class ServingModel:
    """An onnxruntime session with the metadata that says how to feed it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        meta_path, model_path = directory / METADATA_FILE, directory / MODEL_FILE
        for path in (meta_path, model_path):
            if not path.is_file():
                raise ModelLoadError(
                    f"{path}: not found (build a model bundle with `tabpipe bundle`)"
                )
        try:
            metadata = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ModelLoadError(f"{meta_path}: not valid JSON: {exc}") from exc
        except OSError as exc:
            raise ModelLoadError(f"{meta_path}: cannot be read: {exc.strerror or exc}") from exc
        if not isinstance(metadata, dict):
            raise ModelLoadError(
                f"{meta_path}: expected a JSON object (version, inputs, task...), not a "
                f"{type(metadata).__name__}: build the bundle with `tabpipe bundle`"
            )
        self.metadata: dict[str, Any] = metadata
        try:
            recorded, actual = self.metadata.get("onnx_md5"), file_md5(model_path)
        except OSError as exc:
            raise ModelLoadError(f"{model_path}: cannot be read: {exc.strerror or exc}") from exc
        if recorded != actual:
            raise ModelLoadError(
                f"{meta_path} describes a model with md5 {recorded}, but {model_path} has md5 "
                f"{actual}: the metadata belongs to another model"
            )
        try:
            self.features = [Feature.from_dict(f) for f in self.metadata["inputs"]]
            self.task = str(self.metadata["task"])
            self.classes = [str(c) for c in self.metadata.get("classes") or []]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelLoadError(f"{meta_path}: missing or malformed field {exc}") from exc
        if not self.features:
            raise ModelLoadError(f"{meta_path}: declares no inputs: build it with `tabpipe bundle`")
        options = threads.onnxruntime_options(ort.SessionOptions())
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                str(model_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelLoadError(f"{model_path}: onnxruntime cannot load it: {exc}") from exc
        problems = signature_problems(self.session, self.features)
        if problems:
            raise ModelLoadError(f"{model_path} does not match {meta_path}: {'; '.join(problems)}")
        self.output_names = [o.name for o in self.session.get_outputs()]

    @property
    def version(self) -> str:
        return str(self.metadata.get("version") or "unreleased")

    @property
    def is_classifier(self) -> bool:
        return self.task != "regression"

    def _feeds(self, columns: Mapping[str, Sequence[Any]]) -> dict[str, np.ndarray]:
        feeds: dict[str, np.ndarray] = {}
        for feature in self.features:
            values = columns[feature.name]
            if feature.kind == "numeric":
                array = np.array(
                    [math.nan if v is None else float(v) for v in values], dtype=np.float32
                )
            else:
                array = np.array(
                    [MISSING_CATEGORY if v is None else str(v) for v in values], dtype=object
                )
            feeds[feature.onnx_input] = array.reshape(-1, 1)
        return feeds

    def predict_feeds(self, feeds: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The model's answers as arrays, checked finite: (labels as text, probabilities,
        one column per class in ``classes``) for a classifier, (values, an empty array) for
        a regressor. ``feeds`` maps each ONNX input to an (n, 1) array as :meth:`_feeds`
        builds it; batch scoring builds them from a frame without Python objects per row."""
        results = self.session.run(None, dict(feeds))
        outputs = dict(zip(self.output_names, results, strict=True))
        if not self.is_classifier:
            values = np.asarray(outputs["variable"], dtype=np.float64).ravel()
            if not np.isfinite(values).all():
                raise ArithmeticError("the model returned a non-finite value")
            return values, np.empty((len(values), 0))
        labels = np.asarray(outputs["label"]).astype(str).ravel()
        proba = np.asarray(outputs["probabilities"], dtype=np.float64)
        if not np.isfinite(proba).all():
            raise ArithmeticError("the model returned non-finite probabilities")
        return labels, proba

    def predict_columns(self, columns: Mapping[str, Sequence[Any]]) -> list[Prediction]:
        """Predict for equal-length columns, one per feature."""
        answers, proba = self.predict_feeds(self._feeds(columns))
        # tolist() turns the arrays into Python floats and strings in one call; reading them
        # element by element made numpy scalars and took twice as long as the model itself.
        if not self.is_classifier:
            return [Prediction(None, None, v) for v in answers.tolist()]
        return [
            Prediction(label, dict(zip(self.classes, row, strict=True)), None)
            for label, row in zip(answers.tolist(), proba.tolist(), strict=True)
        ]

    def predict_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[Prediction]:
        columns = {f.name: [row[f.name] for row in rows] for f in self.features}
        return self.predict_columns(columns)


def signature_problems(session: ort.InferenceSession, features: Sequence[Feature]) -> list[str]:
    """How the ONNX graph's inputs differ from the features the metadata declares."""
    inputs = session.get_inputs()
    problems = []
    if len(inputs) != len(features):
        problems.append(
            f"the graph has {len(inputs)} inputs, the metadata {len(features)} features"
        )
    for position, (graph_input, feature) in enumerate(zip(inputs, features, strict=False)):
        if graph_input.name != feature.onnx_input:
            problems.append(
                f"input {position} is {graph_input.name!r}, expected {feature.onnx_input!r} "
                f"(feature {feature.name!r})"
            )
        if graph_input.type != ONNX_TYPES[feature.kind]:
            problems.append(
                f"input {graph_input.name!r} has type {graph_input.type}, expected "
                f"{ONNX_TYPES[feature.kind]} for a {feature.kind} feature"
            )
    return problems
