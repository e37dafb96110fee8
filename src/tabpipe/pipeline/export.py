"""Stage ``export``: convert to ONNX, attach provenance metadata, and gate on parity.

The metadata holds only what the stage's declared deps and params determine (the data's
md5, params, metrics, the feature signature), so the same inputs give the same bytes in
any clone. The commit that produced a model is recorded by ``tabpipe record``
(reports/run.json) and in a release bundle's model.json, not here: in the DVC-tracked file
it would change the model's md5 with every commit.

The parity check runs the ONNX model in onnxruntime on the whole test split and compares
it with scikit-learn: classifiers must give the same probabilities within the tolerance and
the same labels wherever the top two probabilities are not tied within it; regressors must
agree within the tolerance relative to the target's scale (see :func:`parity`).
If parity fails, ``model.onnx`` is not written and the stage exits non-zero.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabpipe import __version__
from tabpipe.core import threads
from tabpipe.core.config import Params
from tabpipe.core.dvcfiles import pointer_md5
from tabpipe.core.io import read_json, read_parquet, write_bytes, write_json
from tabpipe.core.paths import DATA_POINTER, PATHS
from tabpipe.core.stage import StageFailed, log, run_stage

if TYPE_CHECKING:  # the libraries load where the model is converted and run: the PR report
    import pandas as pd  # reads Parity (below) without them
    from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class Parity:
    rows: int
    tolerance: float
    max_abs_diff: float
    label_mismatches: int
    worst_row: int

    @property
    def ok(self) -> bool:
        return self.label_mismatches == 0 and self.max_abs_diff <= self.tolerance

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Parity:
        """Read back ``reports/parity.json`` (written from :func:`dataclasses.asdict`)."""
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})

    def describe(self) -> str:
        verdict = "PASS" if self.ok else "FAIL"
        return (
            f"{verdict}: ONNX vs scikit-learn on {self.rows} test rows: "
            f"{self.label_mismatches} label mismatches, max difference {self.max_abs_diff:.3g} "
            f"(tolerance {self.tolerance:g}, worst row {self.worst_row})"
        )


def parity(
    model: Pipeline, model_bytes: bytes, frame: pd.DataFrame, params: Params, tolerance: float
) -> Parity:
    """ONNX against scikit-learn on ``frame``, judged the same way on every scale.

    Classifiers: probabilities may differ by ``tolerance`` (they are on one scale already);
    a label differs only where scikit-learn's top two probabilities are more than
    ``tolerance`` apart (a 0.5/0.5 tie may fall either way in float32). Regressors: each
    difference is divided by the target's scale, max(the test target's standard deviation,
    |the prediction|): a model of prices in thousands and one of rates near zero both pass
    at 1e-4 when they agree to float32's precision, and a difference large next to the
    spread of the target fails. ``max_abs_diff`` reports that scaled difference.
    """
    # One thread: reports/parity.json is committed, and with more threads its max difference
    # changes with the machine's CPU count (1.38e-7 on 2 threads, 2.09e-7 on 1 here).
    import numpy as np

    from tabpipe.core.model import labels_and_probabilities, model_frame, preprocessed
    from tabpipe.core.onnx_model import run, session

    onnx_out = run(session(model_bytes, intra_op_threads=1), frame, params.features)
    # The preprocessing once, for both calls below.
    estimator, features = preprocessed(model, model_frame(frame, params.features))
    classification = params.data.task.is_classification
    with threads.sized_for(len(frame)):
        if classification:
            predicted, expected = labels_and_probabilities(estimator, features)
        else:
            predicted = expected = estimator.predict(features)
    if classification:
        expected_labels = predicted.astype(str)
        assert onnx_out.proba is not None
        diff = np.abs(onnx_out.proba.astype(np.float64) - expected).max(axis=1)
        top_two = np.sort(expected, axis=1)[:, -2:] if expected.shape[1] > 1 else expected
        decided = (top_two[:, -1] - top_two[:, 0]) > tolerance
        mismatches = int(((onnx_out.labels != expected_labels) & decided).sum())
    else:
        expected = expected.astype(np.float64)
        diff = np.abs(onnx_out.labels - expected) / np.maximum(
            target_scale(frame[params.data.target]), np.abs(expected)
        )
        mismatches = 0
    if not np.isfinite(diff).all():
        mismatches += int((~np.isfinite(diff)).sum())
        diff = np.where(np.isfinite(diff), diff, np.inf)
    worst = int(np.argmax(diff)) if len(diff) else -1
    return Parity(len(frame), tolerance, float(diff.max()) if len(diff) else 0.0, mismatches, worst)


def target_scale(target: pd.Series) -> float:
    """The spread a regression difference is measured against: the target's standard
    deviation (1 when it has none: one row, or a constant target)."""
    import numpy as np
    import pandas as pd

    values = pd.to_numeric(target, errors="coerce").dropna().to_numpy(dtype=np.float64)
    spread = float(values.std()) if len(values) > 1 else 0.0
    return spread if np.isfinite(spread) and spread > 0 else 1.0


def data_version(pointer: Path = DATA_POINTER) -> str:
    """The md5 that ``data.dvc`` records for the raw data (``unknown`` without it)."""
    return pointer_md5(pointer) or "unknown"


def feature_signature(model: Pipeline, params: Params, inputs: list[str]) -> list[dict[str, Any]]:
    """Per feature: name, ONNX input name, kind, and the categories seen in training."""
    signature: list[dict[str, Any]] = [
        {"name": n, "kind": "numeric", "dtype": "float32"} for n in params.features.numeric
    ]
    if params.features.categorical:
        encoder = model.named_steps["preprocess"].named_transformers_["categorical"]
        for name, categories in zip(params.features.categorical, encoder.categories_, strict=True):
            signature.append(
                {
                    "name": name,
                    "kind": "categorical",
                    "dtype": "string",
                    "categories": [str(c) for c in categories],
                }
            )
    for entry, onnx_input in zip(signature, inputs, strict=True):
        entry["onnx_input"] = onnx_input
    return signature


def metadata(
    model: Pipeline, params: Params, test_metrics: dict[str, float], inputs: list[str]
) -> dict[str, Any]:
    classes = [str(c) for c in getattr(model, "classes_", [])]
    return {
        "tabpipe_version": __version__,
        "data_md5": data_version(),
        "task": params.data.task.value,
        "target": params.data.target,
        "positive_class": params.data.positive_class or "",
        "classes": classes,
        "features": feature_signature(model, params, inputs),
        "params": params.model_dump(mode="json"),
        "metrics": test_metrics,
    }


def _load(params: Params) -> None:
    """What the body imports (this module loads it lazily, for the readers of Parity): the
    converter and onnxruntime, and the family's estimator, as unpickling the model needs."""
    import joblib  # noqa: F401
    import pandas  # noqa: F401

    import tabpipe.core.onnx_model  # noqa: F401
    from tabpipe.core.model import pipeline

    pipeline(params)  # imports the family's library (scikit-learn's, LightGBM, XGBoost)


def _body(params: Params) -> None:
    import joblib

    from tabpipe.core.onnx_model import NotConvertible, convert, prepare, with_metadata

    model = joblib.load(PATHS.model)
    test = read_parquet(PATHS.test_split)
    log("export", f"converting {params.train.family} to ONNX (opset {params.export.opset})")
    prepare(params)
    try:
        proto = convert(model, params.features, params.data.task, params.export.opset)
    except NotConvertible as exc:
        raise StageFailed(f"train.family {params.train.family!r}: {exc}") from None
    inputs = [i.name for i in proto.graph.input]
    proto = with_metadata(proto, metadata(model, params, read_json(PATHS.test_metrics), inputs))
    model_bytes = proto.SerializeToString()
    log("export", f"parity check: ONNX vs scikit-learn on {len(test)} test rows")
    result = parity(model, model_bytes, test, params, params.export.parity_tolerance)
    write_json(PATHS.parity_report, {"ok": result.ok, **asdict(result)})
    log("export", result.describe())
    if not result.ok:
        raise StageFailed(
            f"ONNX parity check failed; {PATHS.onnx_model} was not written. {result.describe()}"
        )
    write_bytes(PATHS.onnx_model, model_bytes)
    log("export", f"wrote {PATHS.onnx_model} ({len(model_bytes) / 1024:.0f} KiB)")


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage("export", __doc__ or "", _body, argv, load=_load)


if __name__ == "__main__":
    sys.exit(main())
