"""Serving under load: the prediction service on loopback, onnxruntime vs scikit-learn.

The model is trained in-process as the pipeline trains it (``benchmarks.latency``), exported
to ONNX with the pipeline's metadata and bundled like a release. The service is then started
twice as its own uvicorn process, once as released (onnxruntime) and once with the same
request validation and JSON handling but scikit-learn's ``predict_proba`` behind it; locust
drives each with keep-alive users posting real test rows, one row per request and a batch
per request. Everything runs in the same ``make bench`` run, one configuration after the
other, on the same machine: the load generator and the server share its cores, so the
figures are a comparison, not a capacity plan.

``run(root)`` returns a ``ServingResult``; ``markdown(result)`` renders its section.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import onnx
import pandas as pd

from benchmarks import latency
from tabpipe.core.config import FeatureParams, load_params
from tabpipe.core.contract import load_contract
from tabpipe.core.dvcfiles import file_md5
from tabpipe.core.io import read_table
from tabpipe.core.model import model_frame
from tabpipe.core.onnx_model import with_metadata
from tabpipe.pipeline import export
from tabpipe.release.bundle import serving_inputs
from tabpipe.serving.infra_check import free_port, wait_ready
from tabpipe.serving.runtime import Prediction, ServingModel

BACKENDS = {
    "onnx": "onnxruntime (the released service)",
    "sklearn": "scikit-learn `predict_proba`, same service around it",
}
MODES = ("single", "batch")
LOCUSTFILE = Path(__file__).with_name("serving_locustfile.py")
SAMPLE_ROWS = 200


@dataclass(frozen=True)
class LoadResult:
    backend: str
    mode: str
    rows_per_request: int
    requests: int
    failures: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float

    @property
    def rows_per_s(self) -> float:
        return self.requests_per_s * self.rows_per_request


@dataclass(frozen=True)
class ServingResult:
    family: str
    users: int
    duration_s: float
    batch_rows: int
    locust_version: str
    results: list[LoadResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "results": [asdict(r) for r in self.results]}


class SklearnServingModel(ServingModel):
    """The bundle's service contract, with scikit-learn's Pipeline predicting."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.pipeline = joblib.load(directory / "model.joblib")
        self.feature_params = FeatureParams(
            numeric=[f.name for f in self.features if f.kind == "numeric"],
            categorical=[f.name for f in self.features if f.kind != "numeric"],
        )

    def predict_columns(self, columns: Mapping[str, Sequence[Any]]) -> list[Prediction]:
        frame = model_frame(
            pd.DataFrame({f.name: columns[f.name] for f in self.features}), self.feature_params
        )
        if not self.is_classifier:
            return [Prediction(None, None, float(v)) for v in self.pipeline.predict(frame)]
        proba = self.pipeline.predict_proba(frame)
        classes = [str(c) for c in self.pipeline.classes_]
        labels = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
        return [
            Prediction(str(label), dict(zip(classes, map(float, row), strict=True)), None)
            for label, row in zip(labels, proba, strict=True)
        ]


def prepare(root: Path, work: Path) -> tuple[Path, Path, str]:
    """Train, export and bundle in ``work``; return (bundle, rows file, model family)."""
    params = load_params(root / "params.yaml")
    contract = root / params.data.contract
    models = latency.trained_models(read_table(root / params.data.raw), params, contract)
    proto = onnx.load_from_string(models.onnx_bytes)
    inputs = [i.name for i in proto.graph.input]
    meta = export.metadata(models.sklearn, params, {}, inputs)
    bundle = work / "bundle"
    bundle.mkdir(parents=True)
    (bundle / "model.onnx").write_bytes(with_metadata(proto, meta).SerializeToString())
    joblib.dump(models.sklearn, bundle / "model.joblib")
    info = {
        "artifact": "model",
        "version": "benchmark",
        "onnx_md5": file_md5(bundle / "model.onnx"),
        "task": params.data.task.value,
        "target": params.data.target,
        "classes": meta["classes"],
        "inputs": serving_inputs(meta["features"], load_contract(contract), params.data.target),
        "serving": {"max_batch": 10_000},
    }
    (bundle / "model.json").write_text(json.dumps(info))
    rows = json.loads(models.test[params.features.all].head(SAMPLE_ROWS).to_json(orient="records"))
    rows_file = work / "rows.json"
    rows_file.write_text(json.dumps(rows))
    return bundle, rows_file, params.train.family


def _server(backend: str, bundle: Path, port: int, root: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "src")])}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.serving",
            "--serve",
            backend,
            "--bundle",
            str(bundle),
            "--port",
            str(port),
        ],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _locust(
    base: str, rows_file: Path, mode: str, users: int, duration_s: float, batch_rows: int, out: Path
) -> dict[str, str]:
    prefix = out / f"locust-{mode}"
    env = {
        **os.environ,
        "TABPIPE_BENCH_ROWS": str(rows_file),
        "TABPIPE_BENCH_MODE": mode,
        "TABPIPE_BENCH_BATCH": str(batch_rows),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{duration_s:g}s",
            "--host",
            base,
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--stop-timeout",
            "5",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=duration_s + 120,
        check=False,
    )
    stats = Path(f"{prefix}_stats.csv")
    if not stats.exists():
        raise RuntimeError(f"locust wrote no statistics: {done.stderr[-2000:]}")
    with stats.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["Name"] == "Aggregated"]
    if not rows:
        raise RuntimeError(f"no aggregated statistics in {stats}")
    return rows[0]


def measure(
    backend: str,
    mode: str,
    bundle: Path,
    rows_file: Path,
    root: Path,
    *,
    users: int,
    duration_s: float,
    batch_rows: int,
    out: Path,
) -> LoadResult:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = _server(backend, bundle, port, root)
    try:
        failure = wait_ready(base, server, 120)
        if failure is not None:
            raise RuntimeError(f"the {backend} service did not start: {failure}")
        stats = _locust(base, rows_file, mode, users, duration_s, batch_rows, out)
    finally:
        server.terminate()
        server.wait(timeout=30)
    if int(stats["Request Count"]) == 0:
        raise RuntimeError(f"{backend}/{mode}: no request completed in {duration_s:g} s")
    return LoadResult(
        backend,
        mode,
        batch_rows if mode == "batch" else 1,
        int(stats["Request Count"]),
        int(stats["Failure Count"]),
        float(stats["Requests/s"]),
        float(stats["50%"]),
        float(stats["99%"]),
    )


def run(
    root: Path, *, users: int = 8, duration_s: float = 20.0, batch_rows: int = 100
) -> ServingResult:
    """Every backend in every mode, one after the other, in this process's run."""
    with tempfile.TemporaryDirectory(prefix="tabpipe-serving-bench-") as scratch:
        work = Path(scratch)
        bundle, rows_file, family = prepare(root, work)
        results = [
            measure(
                backend,
                mode,
                bundle,
                rows_file,
                root,
                users=users,
                duration_s=duration_s,
                batch_rows=batch_rows,
                out=work,
            )
            for mode in MODES
            for backend in BACKENDS
        ]
    return ServingResult(family, users, duration_s, batch_rows, metadata.version("locust"), results)


def _ms(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:g}"


def markdown(result: ServingResult) -> str:
    lines = [
        "## Serving under load: onnxruntime vs scikit-learn behind the same service",
        "",
        f"The FastAPI service (`tabpipe serve`, one uvicorn process) on 127.0.0.1 with the "
        f"`{result.family}` model, driven by locust {result.locust_version} with "
        f"{result.users} keep-alive users for {result.duration_s:g} s per row below, all in "
        "the same run. `onnx` is the released service; `sklearn` is the same service, same "
        "request validation and JSON, with the scikit-learn Pipeline's `predict_proba` in "
        f"place of onnxruntime. Batch requests carry {result.batch_rows} test rows. Latencies "
        "are locust's (whole milliseconds below 100 ms); the load generator runs on the same "
        "cores as the server.",
        "",
        "| request | backend | requests | failures | p50 ms | p99 ms | requests/s | rows/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result.results:
        kind = (
            "1 row (`/predict`)"
            if r.mode == "single"
            else f"{r.rows_per_request} rows (`/predict/batch`)"
        )
        lines.append(
            f"| {kind} | {r.backend} | {r.requests:,} | {r.failures} | {_ms(r.p50_ms)} | "
            f"{_ms(r.p99_ms)} | {r.requests_per_s:,.0f} | {r.rows_per_s:,.0f} |"
        )
    by = {(r.backend, r.mode): r for r in result.results}
    lines.append("")
    for mode in MODES:
        onnx_run, sk_run = by.get(("onnx", mode)), by.get(("sklearn", mode))
        if onnx_run and sk_run and sk_run.requests_per_s > 0:
            ratio = onnx_run.requests_per_s / sk_run.requests_per_s
            lines.append(
                f"- {mode}: onnxruntime serves {ratio:.1f}x the requests per second of "
                f"scikit-learn (p50 {_ms(onnx_run.p50_ms)} vs {_ms(sk_run.p50_ms)} ms)."
            )
    return "\n".join(lines) + "\n"


def serve(backend: str, bundle: Path, port: int) -> None:
    """The service process: the bundle as released, or with scikit-learn predicting."""
    import uvicorn

    from tabpipe.serving.app import create_app

    model = SklearnServingModel(bundle) if backend == "sklearn" else None
    uvicorn.run(create_app(bundle, model=model), host="127.0.0.1", port=port, log_level="warning")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serving", description=__doc__)
    parser.add_argument("--serve", choices=list(BACKENDS), help="(internal) run one server")
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--port", type=int)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per row")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.bundle, args.port)
        return 0
    result = run(Path.cwd(), users=args.users, duration_s=args.duration)
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), indent=2))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
