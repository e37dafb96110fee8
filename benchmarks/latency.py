"""Prediction latency: onnxruntime vs scikit-learn on the same model, one row and a batch.

The model is trained in-process exactly as the pipeline does (contract check, seeded split,
``tabpipe.pipeline.train.fit``) and converted with ``tabpipe.core.onnx_model.convert``, so
the figures do not depend on whatever ``models/`` holds. End-to-end variants start from a raw
DataFrame and
include the conversion to model inputs (``model_frame`` / ``feeds``); the raw variants time
the model call alone on prebuilt inputs. Variants are interleaved call by call (with a
rotating order) so that a burst of background load does not land on one variant only, and
the garbage collector is paused while timing, as ``timeit`` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
from sklearn.pipeline import Pipeline

from benchmarks.timing import Percentiles, collector_paused
from tabpipe.core import onnx_model, threads
from tabpipe.core.config import Params, load_params
from tabpipe.core.contract import check, load_contract
from tabpipe.core.io import read_table
from tabpipe.core.model import model_frame
from tabpipe.pipeline import export
from tabpipe.pipeline.split import split_frame
from tabpipe.pipeline.train import fit

VARIANTS = {
    "sklearn": "scikit-learn: `predict_proba(model_frame(rows))`",
    "onnx": "onnxruntime: `tabpipe.core.onnx_model.run(session, rows)`",
    "sklearn_prebuilt": "scikit-learn: `predict_proba` on a prebuilt model frame",
    "onnx_raw": "onnxruntime: `session.run` on prebuilt feeds",
    "onnx_raw_1thread": "onnxruntime: `session.run` on prebuilt feeds, 1 intra-op thread",
}

# Single-row calls cycle through this many distinct test rows (inputs are prebuilt per row).
SINGLE_ROW_POOL = 200


class ParityError(AssertionError):
    """onnxruntime and scikit-learn disagree on the benchmark rows: not the same model."""


@dataclass(frozen=True)
class Models:
    params: Params
    sklearn: Pipeline
    onnx_bytes: bytes
    train_rows: int
    test: pd.DataFrame  # the held-out split, raw columns as the contract coerced them


@dataclass(frozen=True)
class LatencyResult:
    family: str
    hyperparameters: dict[str, object]
    onnx_kib: float
    train_rows: int
    batch_rows: int
    max_abs_diff: float
    intra_op_threads: int  # 0: onnxruntime's default
    single: dict[str, Percentiles]
    batch: dict[str, Percentiles]


def trained_models(raw: pd.DataFrame, params: Params, contract: Path) -> Models:
    """validate -> split -> train -> convert, in-process, as the DVC stages do."""
    report, validated = check(raw, load_contract(contract), source="bench", contract=str(contract))
    if validated is None:
        raise ValueError(report.summary())
    task = params.data.task
    train, test = split_frame(
        validated, params.data.target, params.split, classification=task.is_classification
    )
    model = fit(train, params)
    proto = onnx_model.convert(model, params.features, task, params.export.opset)
    return Models(params, model, proto.SerializeToString(), len(train), test)


def _single_thread_session(model_bytes: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def time_interleaved(
    calls: dict[str, Callable[[int], object]], repetitions: int, warmup: int
) -> dict[str, Percentiles]:
    """Call every variant ``repetitions`` times (argument: the repetition number)."""
    names = list(calls)
    for i in range(warmup):
        for name in names:
            calls[name](i)
    samples: dict[str, list[int]] = {name: [] for name in names}
    with collector_paused():
        for i in range(repetitions):
            shift = i % len(names)
            for name in names[shift:] + names[:shift]:
                started = time.perf_counter_ns()
                calls[name](i)
                samples[name].append(time.perf_counter_ns() - started)
    return {name: Percentiles.of(values) for name, values in samples.items()}


def _calls(models: Models, frames: list[pd.DataFrame]) -> dict[str, Callable[[int], object]]:
    """The variants, each taking a repetition number and predicting ``frames[i % len]``."""
    features = models.params.features
    model, n = models.sklearn, len(frames)
    predict = model.predict_proba if models.params.data.task.is_classification else model.predict
    sess = onnx_model.session(models.onnx_bytes)
    sess_1 = _single_thread_session(models.onnx_bytes)
    prebuilt_frames = [model_frame(f, features) for f in frames]
    names = onnx_model.input_names(sess)
    prebuilt_feeds = [onnx_model.feeds(f, features, names) for f in frames]
    return {
        "sklearn": lambda i: predict(model_frame(frames[i % n], features)),
        "onnx": lambda i: onnx_model.run(sess, frames[i % n], features),
        "sklearn_prebuilt": lambda i: predict(prebuilt_frames[i % n]),
        "onnx_raw": lambda i: sess.run(None, prebuilt_feeds[i % n]),
        "onnx_raw_1thread": lambda i: sess_1.run(None, prebuilt_feeds[i % n]),
    }


def parity(models: Models, frame: pd.DataFrame) -> float:
    """The export stage's parity difference on ``frame`` (rows with their target); raises
    where the export stage would fail. Regression differences are relative to the target's
    scale there (diamonds' prices in thousands differ by 6e-3 in absolute terms)."""
    params = models.params
    tolerance = params.export.parity_tolerance
    result = export.parity(models.sklearn, models.onnx_bytes, frame, params, tolerance)
    if not result.ok:
        raise ParityError(result.describe())
    return result.max_abs_diff


def measure(
    models: Models,
    *,
    single_calls: int,
    batch_rows: int,
    batch_calls: int,
    warmup: int,
    seed: int = 0,
) -> LatencyResult:
    test = models.test
    rows = [test.iloc[[i]] for i in range(min(single_calls, len(test), SINGLE_ROW_POOL))]
    picks = np.random.default_rng(seed).integers(0, len(test), size=batch_rows)
    batch = test.iloc[picks].reset_index(drop=True)
    diff = parity(models, batch)
    # scikit-learn's OpenMP pool as tabpipe sizes it for that many rows (one thread below
    # threads.ONE_THREAD_BELOW_ROWS); onnxruntime has its own pool, which this leaves alone.
    with threads.sized_for(1):
        single = time_interleaved(_calls(models, rows), single_calls, warmup)
    with threads.sized_for(batch_rows):
        batched = time_interleaved(_calls(models, [batch]), batch_calls, max(1, warmup // 10))
    train = models.params.train
    return LatencyResult(
        family=train.family,
        hyperparameters=train.hyperparameters(),
        onnx_kib=len(models.onnx_bytes) / 1024,
        train_rows=models.train_rows,
        batch_rows=batch_rows,
        max_abs_diff=diff,
        intra_op_threads=onnx_model.session(models.onnx_bytes)
        .get_session_options()
        .intra_op_num_threads,
        single=single,
        batch=batched,
    )


def run(
    root: Path, *, single_calls: int, batch_rows: int, batch_calls: int, warmup: int
) -> LatencyResult:
    params = load_params(root / "params.yaml")
    models = trained_models(read_table(root / params.data.raw), params, root / params.data.contract)
    return measure(
        models,
        single_calls=single_calls,
        batch_rows=batch_rows,
        batch_calls=batch_calls,
        warmup=warmup,
    )
