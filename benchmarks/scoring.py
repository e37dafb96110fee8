"""Batch scoring: ``tabpipe predict`` on a 1M-row file against scikit-learn on the same rows.

The model is trained and bundled as in :mod:`benchmarks.serving`. The rows are synthetic
(:mod:`benchmarks.synthetic`, the bundled data's distribution) in a Parquet file.
``tabpipe predict`` runs as a user runs it, a process of its own (start-up included), and
again in this process phase by phase (read, contract check, prediction, write) to say where
its time goes. scikit-learn reads the same file, builds the model frame and calls
``predict_proba`` on it (no contract check, nothing written). Both outputs are compared
before any figure is reported.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import joblib
import numpy as np
import pandas as pd

from benchmarks.serving import prepare
from benchmarks.synthetic import contract_bounds, copied_columns, write_parquet
from tabpipe.core.config import load_params
from tabpipe.core.io import read_table, write_with
from tabpipe.core.model import model_frame
from tabpipe.pipeline import export
from tabpipe.release import predict
from tabpipe.serving.runtime import ServingModel

T = TypeVar("T")
# Where predict_frame's time goes, by the file of the function that spent it (cProfile's
# own time per function, summed): first match wins.
PROFILE_GROUPS = (
    ("onnxruntime `session.run`", ("onnxruntime",)),
    ("`tabpipe predict`: values to lists, answers to columns", ("tabpipe/release/predict",)),
    ("the service's runtime: inputs from values, one answer per row", ("tabpipe/serving/",)),
    ("pandas and numpy", ("/pandas/", "/numpy/")),
)


class Disagreement(AssertionError):
    """tabpipe predict and scikit-learn gave different probabilities: not the same model."""


@dataclass(frozen=True)
class ScoringResult:
    family: str
    rows: int
    file_mib: float
    cli_seconds: float  # `tabpipe predict` as a process, start-up included
    read_s: float
    contract_s: float
    predict_s: float
    write_s: float
    sklearn_read_s: float
    sklearn_frame_s: float
    sklearn_predict_s: float
    max_abs_diff: float
    predict_profile: dict[str, float] = field(default_factory=dict)  # component -> seconds

    @property
    def tabpipe_s(self) -> float:
        return self.read_s + self.contract_s + self.predict_s + self.write_s

    @property
    def sklearn_s(self) -> float:
        return self.sklearn_read_s + self.sklearn_frame_s + self.sklearn_predict_s


def _timed(work: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = work()
    return value, time.perf_counter() - started


def profile_predict(model: ServingModel, frame: pd.DataFrame) -> dict[str, float]:
    """``predict_frame`` under cProfile: seconds of own time per component (PROFILE_GROUPS)."""
    profiler = cProfile.Profile()
    profiler.runcall(predict.predict_frame, model, frame)
    totals: dict[str, float] = {}
    stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (filename, _, function), (_, _, own, _, _) in stats.items():
        where = f"{filename}:{function}"  # a C function's "file" is "~"; its name says whose
        group = next(
            (name for name, parts in PROFILE_GROUPS if any(p in where for p in parts)),
            "other (Python built-ins, the rest)",
        )
        totals[group] = totals.get(group, 0.0) + own
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def run(root: Path, *, rows: int = 1_000_000, progress: bool = True) -> ScoringResult:
    def say(message: str) -> None:
        if progress:
            print(f"[bench] scoring: {message}", flush=True)

    params = load_params(root / "params.yaml")
    with tempfile.TemporaryDirectory(prefix="tabpipe-scoring-bench-") as scratch:
        work = Path(scratch)
        bundle, _, family = prepare(root, work)
        source = work / "rows.parquet"
        say(f"writing {rows:,} synthetic rows")
        write_parquet(
            read_table(root / params.data.raw),
            rows,
            source,
            bounds=contract_bounds(root / params.data.contract),
            seed=0,
            keep=copied_columns(params.data.target, root / params.data.contract),
        )
        out = work / "scored.parquet"
        say("tabpipe predict, as a process")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
        command = [sys.executable, "-m", "tabpipe.cli", "predict", str(source)]
        command += ["--out", str(out), "--model-dir", str(bundle)]
        started = time.perf_counter()
        subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
        cli_seconds = time.perf_counter() - started

        say("tabpipe predict, phase by phase")
        model = ServingModel(bundle)
        frame, read_s = _timed(lambda: read_table(source))
        (report, valid), contract_s = _timed(lambda: predict.validate(frame, params, str(source)))
        if valid is None:
            raise RuntimeError(report.summary())
        scored, predict_s = _timed(lambda: predict.predict_frame(model, valid))
        _, write_s = _timed(
            lambda: write_with(out, lambda path: scored.to_parquet(path, index=False))
        )

        say("scikit-learn predict_proba on the same rows")
        pipeline = joblib.load(bundle / "model.joblib")
        again, sk_read_s = _timed(lambda: pd.read_parquet(source))
        X, sk_frame_s = _timed(lambda: model_frame(again, params.features))
        expected, sk_predict_s = _timed(
            lambda: pipeline.predict_proba(X) if model.is_classifier else pipeline.predict(X)
        )
        if model.is_classifier:
            got = scored[[f"probability_{c}" for c in model.classes]].to_numpy(np.float64)
        else:
            got = scored["prediction"].to_numpy(np.float64)
        wanted = np.asarray(expected, dtype=np.float64)
        delta = np.abs(got - wanted)
        if not model.is_classifier:  # on the target's scale, as the export stage judges it
            target = again[params.data.target]
            delta = delta / np.maximum(export.target_scale(target), np.abs(wanted))
        diff = float(delta.max())
        if diff > params.export.parity_tolerance:
            raise Disagreement(f"max difference {diff:.3g} > {params.export.parity_tolerance:g}")
        say("where predict's time goes (cProfile)")
        profile = profile_predict(model, valid)
        file_mib = source.stat().st_size / 1024**2
    return ScoringResult(
        family,
        rows,
        file_mib,
        cli_seconds,
        read_s,
        contract_s,
        predict_s,
        write_s,
        sk_read_s,
        sk_frame_s,
        sk_predict_s,
        diff,
        profile,
    )


def markdown(r: ScoringResult) -> str:
    rate = r.rows / r.predict_s
    lines = [
        "## Batch scoring: `tabpipe predict` vs scikit-learn on a file",
        "",
        f"`tabpipe predict` on a Parquet file of {r.rows:,} synthetic rows ({r.file_mib:.0f} "
        f"MiB; the bundled data's distribution, `benchmarks/synthetic.py`) with the "
        f"`{r.family}` model bundled as a release, against scikit-learn's `predict_proba` on "
        "the same rows (the Pipeline the ONNX model was exported from). *process*: the "
        "command as a user runs it, start-up included. The phases were timed in one process: "
        "*read* the file, *contract* the data contract minus the label, *predict* "
        "(`predict_frame`: the service's runtime in chunks of "
        f"{predict.CHUNK_ROWS:,} rows), *write* the scored file. scikit-learn: read, model "
        "frame, `predict_proba`; no contract, nothing written. Largest probability "
        f"difference between the two: {r.max_abs_diff:.2g}.",
        "",
        "| | process s | read s | contract s | model frame s | predict s | write s | total s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| `tabpipe predict` | {r.cli_seconds:.1f} | {r.read_s:.1f} | {r.contract_s:.1f} | "
        f"(in predict) | {r.predict_s:.1f} | {r.write_s:.1f} | {r.tabpipe_s:.1f} |",
        f"| scikit-learn `predict_proba` | | {r.sklearn_read_s:.1f} | | "
        f"{r.sklearn_frame_s:.1f} | {r.sklearn_predict_s:.1f} | | {r.sklearn_s:.1f} |",
        "",
        f"Scoring alone, `tabpipe predict` ran {rate:,.0f} rows/s against "
        f"{r.rows / (r.sklearn_frame_s + r.sklearn_predict_s):,.0f} for scikit-learn "
        "(model frame and `predict_proba`): "
        f"{(r.sklearn_frame_s + r.sklearn_predict_s) / r.predict_s:.1f}x. End to end, with "
        f"the contract check and the write scikit-learn does not do, it took {r.tabpipe_s:.1f} "
        f"s against {r.sklearn_s:.1f} s.",
    ]
    if r.predict_profile:
        total = sum(r.predict_profile.values()) or 1.0
        lines += [
            "",
            "Where the *predict* phase's time goes: `predict_frame` once more under cProfile "
            "(own time of each function, grouped by where it lives; profiling slows Python "
            "code, so read shares, not seconds):",
            "",
            "| component | share |",
            "|---|---:|",
            *(f"| {name} | {sec / total:.0%} |" for name, sec in r.predict_profile.items()),
        ]
    return "\n".join(lines) + "\n"
