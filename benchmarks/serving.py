"""Serving: the prediction service on loopback, onnxruntime vs scikit-learn behind it.

The model is trained in-process as the pipeline trains it (``benchmarks.latency``), exported
to ONNX with the pipeline's metadata and bundled like a release. The service is started as
its own uvicorn process, once as released (onnxruntime) and once with the same request
validation and JSON handling but scikit-learn's ``predict_proba`` behind it, and measured
the same way for each, one after the other in the same run:

- *sequential*: one keep-alive client (``http.client``) sends one request after the other,
  one row or a batch of rows per request, timed with ``perf_counter_ns`` on the client;
- *concurrent*: locust drives keep-alive users posting real test rows, one row per request
  and a batch per request;
- *in process*: the bare ``session.run`` on prebuilt inputs, the service's model runtime
  (inputs from JSON values, answers back) and scikit-learn, on the same rows, no HTTP;
- *profile*: the onnxruntime service again under the sequential load with a profiler
  inside (:mod:`benchmarks.profiler`: cProfile on every thread, by thread CPU time),
  attributing its CPU time to components.

The load generator and the server share the machine's cores, so the figures are a
comparison, not a capacity plan. ``run(root)`` returns a ``ServingResult``;
``markdown(result)`` renders its section.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import onnx
import pandas as pd

from benchmarks import latency
from benchmarks.timing import Percentiles, collector_paused
from tabpipe.core import threads
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
PATHS = {"single": "/predict", "batch": "/predict/batch"}
LOCUSTFILE = Path(__file__).with_name("serving_locustfile.py")
SAMPLE_ROWS = 1000
HEADERS = {"Content-Type": "application/json"}
PROFILE_ENV = "TABPIPE_BENCH_PROFILE"  # the server writes its profile's totals there


@dataclass(frozen=True)
class Settings:
    """How much work each part does (``make bench``: the defaults; ``--quick``: less)."""

    users: int = 8
    duration_s: float = 20.0  # locust run per backend and request kind
    batch_rows: int = 1000
    single_requests: int = 2000  # sequential, per backend
    batch_requests: int = 100
    in_process_calls: int = 1000


QUICK = Settings(duration_s=5.0, single_requests=200, batch_requests=10, in_process_calls=100)


@dataclass(frozen=True)
class Sequential:
    backend: str
    mode: str
    rows_per_request: int
    latency: Percentiles  # per request, on the client

    @property
    def per_row_us(self) -> float:
        return self.latency.p50_ns / 1e3 / self.rows_per_request


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
class InProcess:
    """Per call, in the benchmark process, on the same rows as the service gets."""

    rows: int
    session_run: Percentiles  # onnxruntime on prebuilt inputs
    runtime: Percentiles  # ServingModel.predict_rows: JSON values in, Prediction objects out
    sklearn: Percentiles  # predict_proba on a prebuilt model frame


@dataclass(frozen=True)
class Profile:
    mode: str
    rows_per_request: int
    requests: int
    busy: dict[str, float]  # component -> seconds of its functions' own time, all threads
    waiting_s: float  # the threads' time in the event loop's poll, waits for work, sleeps
    process_cpu_s: float  # the server process's CPU time over the same span
    threads: int  # Python threads profiled
    latency: Percentiles  # the profiled requests, on the client

    @property
    def busy_s(self) -> float:
        return sum(self.busy.values())

    def shares(self) -> list[tuple[str, float]]:
        total = self.busy_s or 1.0
        return sorted(((k, v / total) for k, v in self.busy.items()), key=lambda kv: -kv[1])


@dataclass(frozen=True)
class ServingResult:
    family: str
    settings: Settings
    locust_version: str
    sequential: list[Sequential] = field(default_factory=list)
    concurrent: list[LoadResult] = field(default_factory=list)
    in_process: list[InProcess] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SklearnServingModel(ServingModel):
    """The bundle's service contract, with scikit-learn's Pipeline predicting."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.pipeline = joblib.load(directory / "model.joblib")
        self.feature_params = FeatureParams(
            numeric=[f.name for f in self.features if f.kind == "numeric"],
            # Booleans are two-category features of the model, as params.yaml lists them.
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


def batch_of(rows: Sequence[Mapping[str, Any]], size: int) -> list[Mapping[str, Any]]:
    """``size`` rows, the sample repeated as often as needed."""
    return (list(rows) * (size // len(rows) + 1))[:size]


@contextmanager
def server(
    backend: str, bundle: Path, root: Path, profile: Path | None = None
) -> Iterator[tuple[str, int]]:
    """A running service (base URL, port); stopped (and its profile written) on exit."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "src")])}
    if backend == "sklearn":
        # Requests of up to 1,000 rows: scikit-learn's OpenMP on one thread, as tabpipe runs
        # it below threads.ONE_THREAD_BELOW_ROWS (a per-request limit would cost more).
        env["OMP_NUM_THREADS"] = "1"
        env.pop(threads.SET_BY_TABPIPE, None)
    if profile is not None:
        env[PROFILE_ENV] = str(profile)
    command = [sys.executable, "-m", "benchmarks.serving", "--serve", backend]
    command += ["--bundle", str(bundle), "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        failure = wait_ready(base, process, 120)
        if failure is not None:
            raise RuntimeError(f"the {backend} service did not start: {failure}")
        yield base, port
    finally:
        # SIGINT: uvicorn shuts down, then raises the signal again, which Python turns into
        # KeyboardInterrupt, so serve() still writes its profile (SIGTERM would kill it).
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sequential(port: int, path: str, bodies: Sequence[bytes], requests: int) -> Percentiles:
    """One keep-alive connection, ``requests`` POSTs one after the other (after a warm-up)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    samples = []
    # The client's collector paused: the server's time is measured, not the collections of
    # this process (which holds the trained models and their frames).
    with closing(connection), collector_paused():
        for i in range(requests + max(5, requests // 20)):
            started = time.perf_counter_ns()
            connection.request("POST", path, bodies[i % len(bodies)], HEADERS)
            response = connection.getresponse()
            answer = response.read()
            elapsed = time.perf_counter_ns() - started
            if response.status != 200:
                raise RuntimeError(f"{path}: {response.status} {answer[:300]!r}")
            if i >= requests // 20 and len(samples) < requests:  # the first ones warm up
                samples.append(elapsed)
    return Percentiles.of(samples)


def bodies(rows: Sequence[Mapping[str, Any]], mode: str, batch_rows: int) -> list[bytes]:
    if mode == "single":
        return [json.dumps(row).encode() for row in rows]
    return [json.dumps({"rows": batch_of(rows, batch_rows)}).encode()]


def _locust(
    base: str,
    rows_file: Path,
    mode: str,
    users: int,
    duration_s: float,
    batch_rows: int,
    out: Path,
    requests: int | None = None,
) -> dict[str, Any]:
    """Run locust; the latencies, failures and busy seconds its users recorded."""
    stats = out / f"locust-{mode}.json"
    stats.unlink(missing_ok=True)
    env = {
        **os.environ,
        "TABPIPE_BENCH_ROWS": str(rows_file),
        "TABPIPE_BENCH_MODE": mode,
        "TABPIPE_BENCH_BATCH": str(batch_rows),
        "TABPIPE_BENCH_REQUESTS": str(requests or 0),
        "TABPIPE_BENCH_STATS": str(stats),
    }
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"]
    command += ["--users", str(users), "--spawn-rate", str(users), "--run-time", f"{duration_s:g}s"]
    command += ["--host", base, "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "5"]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=duration_s + 120, check=False
    )
    if not stats.exists():
        raise RuntimeError(f"locust recorded no statistics: {done.stderr[-2000:]}")
    return dict(json.loads(stats.read_text(encoding="utf-8")))


def concurrent(
    backend: str,
    mode: str,
    base: str,
    rows_file: Path,
    *,
    users: int,
    duration_s: float,
    batch_rows: int,
    out: Path,
    requests: int | None = None,
) -> LoadResult:
    """locust's ``users`` keep-alive users for ``duration_s`` (or until ``requests`` answers)."""
    stats = _locust(base, rows_file, mode, users, duration_s, batch_rows, out, requests)
    latencies = stats["latencies_ms"]
    if not latencies:
        raise RuntimeError(f"{backend}/{mode}: locust counted no request")
    p = Percentiles.of(np.asarray(latencies) * 1e6)
    return LoadResult(
        backend,
        mode,
        batch_rows if mode == "batch" else 1,
        len(latencies),
        int(stats["failures"]),
        len(latencies) / stats["seconds"] if stats["seconds"] > 0 else 0.0,
        p.p50_ns / 1e6,
        p.p99_ns / 1e6,
    )


def in_process(bundle: Path, rows: Sequence[Mapping[str, Any]], size: int, calls: int) -> InProcess:
    """The model call alone, the service runtime around it, and scikit-learn, on ``size`` rows."""
    onnx_model, sk_model = ServingModel(bundle), SklearnServingModel(bundle)
    batch = [batch_of(rows[i:], size) for i in range(min(len(rows), 50))]  # distinct inputs
    columns = [{f.name: [r[f.name] for r in b] for f in onnx_model.features} for b in batch]
    feeds = [onnx_model._feeds(c) for c in columns]  # what predict_columns builds
    frames = [
        model_frame(pd.DataFrame(c), sk_model.feature_params)
        for c in columns  # what the sklearn backend builds
    ]
    predict = (
        sk_model.pipeline.predict_proba if sk_model.is_classifier else sk_model.pipeline.predict
    )
    with threads.sized_for(size):  # scikit-learn's OpenMP pool as tabpipe sizes it
        timed = latency.time_interleaved(
            {
                "session_run": lambda i: onnx_model.session.run(None, feeds[i % len(feeds)]),
                "runtime": lambda i: onnx_model.predict_rows(batch[i % len(batch)]),
                "sklearn": lambda i: predict(frames[i % len(frames)]),
            },
            calls,
            warmup=max(3, calls // 20),
        )
    return InProcess(size, timed["session_run"], timed["runtime"], timed["sklearn"])


def read_profile(
    path: Path, mode: str, rows_per_request: int, requests: int, latency: Percentiles
) -> Profile:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Profile(
        mode,
        rows_per_request,
        requests,
        {str(k): float(v) for k, v in raw["busy_seconds"].items()},
        float(raw["waiting_seconds"]),
        float(raw["process_cpu_seconds"]),
        int(raw["threads"]),
        latency,
    )


def run(root: Path, *, settings: Settings = Settings(), progress: bool = True) -> ServingResult:
    """Every part, backend and request kind, one after the other, in this process's run."""

    def say(message: str) -> None:
        if progress:
            print(f"[bench] serving: {message}", flush=True)

    s = settings
    per_mode = {"single": s.single_requests, "batch": s.batch_requests}
    sizes = {"single": 1, "batch": s.batch_rows}
    with tempfile.TemporaryDirectory(prefix="tabpipe-serving-bench-") as scratch:
        work = Path(scratch)
        bundle, rows_file, family = prepare(root, work)
        rows = json.loads(rows_file.read_text())
        result = ServingResult(family, s, metadata.version("locust"))
        for backend in BACKENDS:
            with server(backend, bundle, root) as (base, port):
                for mode in MODES:
                    say(f"{backend}, {mode}: {per_mode[mode]} sequential requests")
                    timing = sequential(
                        port, PATHS[mode], bodies(rows, mode, s.batch_rows), per_mode[mode]
                    )
                    result.sequential.append(Sequential(backend, mode, sizes[mode], timing))
                for mode in MODES:
                    say(f"{backend}, {mode}: {s.users} users for {s.duration_s:g} s")
                    result.concurrent.append(
                        concurrent(
                            backend,
                            mode,
                            base,
                            rows_file,
                            users=s.users,
                            duration_s=s.duration_s,
                            batch_rows=s.batch_rows,
                            out=work,
                        )
                    )
        for mode in MODES:
            say(f"in process, {sizes[mode]} row(s) per call")
            result.in_process.append(in_process(bundle, rows, sizes[mode], s.in_process_calls))
        for mode in MODES:
            say(f"profile of the onnx service, {mode}")
            profile_file = work / f"profile-{mode}.json"
            with server("onnx", bundle, root, profile=profile_file) as (_, port):
                timing = sequential(
                    port, PATHS[mode], bodies(rows, mode, s.batch_rows), per_mode[mode]
                )
            result.profiles.append(
                read_profile(profile_file, mode, sizes[mode], per_mode[mode], timing)
            )
    return result


def _ms(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}" if value < 1 else f"{value:.1f}"


def _kind(mode: str, rows: int) -> str:
    return "1 row (`/predict`)" if mode == "single" else f"{rows:,} rows (`/predict/batch`)"


def markdown(result: ServingResult) -> str:
    s = result.settings
    lines = [
        "## Serving: onnxruntime vs scikit-learn behind the same service",
        "",
        f"The FastAPI service (`tabpipe serve`, one uvicorn process) on 127.0.0.1 with the "
        f"`{result.family}` model trained on the bundled data. `onnx` is the released "
        "service; `sklearn` is the same service, same request validation and JSON, with the "
        "scikit-learn Pipeline's `predict_proba` in place of onnxruntime (its OpenMP pool on "
        "one thread, as tabpipe runs scikit-learn below 200,000 rows). Requests carry real "
        f"test rows: one row, or a batch of {s.batch_rows:,}. The load generator runs on the "
        "same cores as the server.",
        "",
        f"**Sequential**: one keep-alive client, one request after the other "
        f"({s.single_requests:,} one-row and {s.batch_requests:,} batch requests per backend, "
        "after a warm-up), timed on the client with its garbage collector paused.",
        "",
        "| request | backend | p50 ms | p99 ms | mean ms | µs per row (p50) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for q in result.sequential:
        p = q.latency
        lines.append(
            f"| {_kind(q.mode, q.rows_per_request)} | {q.backend} | {_ms(p.p50_ns / 1e6)} | "
            f"{_ms(p.p99_ns / 1e6)} | {_ms(p.mean_ns / 1e6)} | {q.per_row_us:,.0f} |"
        )
    lines += [
        "",
        f"**Concurrent**: locust {result.locust_version}, {s.users} keep-alive users for "
        f"{s.duration_s:g} s per row below (latencies are locust's, whole milliseconds).",
        "",
        "| request | backend | requests | failures | p50 ms | p99 ms | requests/s | rows/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result.concurrent:
        lines.append(
            f"| {_kind(r.mode, r.rows_per_request)} | {r.backend} | {r.requests:,} | "
            f"{r.failures} | {_ms(r.p50_ms)} | {_ms(r.p99_ms)} | {r.requests_per_s:,.0f} | "
            f"{r.rows_per_s:,.0f} |"
        )
    lines += [
        "",
        "**In process**, no HTTP: p50 per call on the same rows "
        f"({s.in_process_calls:,} calls each, interleaved). *session.run*: onnxruntime on "
        "prebuilt inputs; *runtime*: `ServingModel.predict_rows` (inputs from the rows' JSON "
        "values, then `session.run`, then one answer per row), what the endpoint calls; "
        "*scikit-learn*: `predict_proba` on a prebuilt model frame.",
        "",
        "| rows per call | session.run µs | runtime µs | scikit-learn µs |",
        "|---:|---:|---:|---:|",
    ]
    for ip in result.in_process:
        lines.append(
            f"| {ip.rows:,} | {ip.session_run.p50_ns / 1e3:,.0f} | {ip.runtime.p50_ns / 1e3:,.0f} "
            f"| {ip.sklearn.p50_ns / 1e3:,.0f} |"
        )
    lines += ["", *_profile_lines(result), *_reading(result)]
    return "\n".join(lines).rstrip() + "\n"


def _profile_lines(result: ServingResult) -> list[str]:
    if not result.profiles:
        return []
    seq = {q.mode: q for q in result.sequential if q.backend == "onnx"}
    names = sorted({k for p in result.profiles for k in p.busy}, key=str)
    by_share = sorted(
        names, key=lambda n: -max(dict(p.shares()).get(n, 0.0) for p in result.profiles)
    )
    header = (
        "| component | "
        + " | ".join(f"{_kind(p.mode, p.rows_per_request)}" for p in result.profiles)
        + " |"
    )
    lines = [
        "**Where the service's time goes** (onnx backend): the server process again under "
        "the sequential load above, with cProfile on each of its Python threads "
        "(`benchmarks/profiler.py`): the functions' own time summed by component, a builtin "
        "counted for the function that called it, the threads' waiting (the event loop's "
        "poll, the workers' wait for work) left out; share of that busy time. Profiling "
        "slows Python calls more than native code, so the Python components' shares are "
        "upper bounds and the model's a lower bound: "
        + "; ".join(
            f"{_kind(p.mode, p.rows_per_request)} took {_ms(p.latency.p50_ns / 1e6)} ms at "
            f"p50 under the profiler"
            + (
                f" against {_ms(q.latency.p50_ns / 1e6)} ms without"
                if (q := seq.get(p.mode)) is not None
                else ""
            )
            for p in result.profiles
        )
        + ".",
        "",
        header,
        "|---|" + "---:|" * len(result.profiles),
    ]
    for name in by_share:
        cells = [f"{dict(p.shares()).get(name, 0.0):.0%}" for p in result.profiles]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _reading(result: ServingResult) -> list[str]:
    seq = {(q.backend, q.mode): q for q in result.sequential}
    conc = {(r.backend, r.mode): r for r in result.concurrent}
    bare = {ip.rows: ip for ip in result.in_process}
    out = []
    single = seq.get(("onnx", "single"))
    if single is not None:
        out.append(
            f"- One row, sequential: p50 {_ms(single.latency.p50_ns / 1e6)} ms, p99 "
            f"{_ms(single.latency.p99_ns / 1e6)} ms on the onnxruntime service (budget: p99 "
            f"under 5 ms: {'met' if single.latency.p99_ns < 5e6 else '**not met**'})."
        )
    for mode in MODES:
        o, k = conc.get(("onnx", mode)), conc.get(("sklearn", mode))
        if o and k and k.requests_per_s > 0:
            rows = o.rows_per_request
            out.append(
                f"- {_kind(mode, rows)}, {result.settings.users} concurrent users: onnxruntime "
                f"serves {o.requests_per_s / k.requests_per_s:.1f}x the requests per second of "
                f"scikit-learn ({o.rows_per_s:,.0f} vs {k.rows_per_s:,.0f} rows/s)."
            )
    for mode in MODES:
        q = seq.get(("onnx", mode))
        ip = bare.get(q.rows_per_request) if q else None
        if q is None or ip is None:
            continue
        ratio = q.latency.p50_ns / ip.session_run.p50_ns
        verdict = "more than 10x" if ratio > 10 else "within 10x"
        out.append(
            f"- {_kind(mode, q.rows_per_request)}: a sequential request took "
            f"{ratio:.0f}x the bare `session.run` ({_ms(q.latency.p50_ns / 1e6)} ms vs "
            f"{_ms(ip.session_run.p50_ns / 1e6)} ms at p50; {verdict}); the service runtime "
            f"alone took {_ms(ip.runtime.p50_ns / 1e6)} ms."
        )
    for p in result.profiles:
        top = ", ".join(f"{name} {share:.0%}" for name, share in p.shares()[:3])
        out.append(f"- Profile, {_kind(p.mode, p.rows_per_request)}: {top}.")
    return [*out, ""] if out else []


def serve(backend: str, bundle: Path, port: int) -> None:
    """The service process: the bundle as released, or with scikit-learn predicting.

    With ``$TABPIPE_BENCH_PROFILE`` set, :class:`benchmarks.profiler.ThreadProfiler` runs for
    the server's lifetime and writes its totals there when the server stops.
    """
    from benchmarks.profiler import ThreadProfiler
    from tabpipe.serving.app import create_app
    from tabpipe.serving.app import serve as run_service

    model = SklearnServingModel(bundle) if backend == "sklearn" else None
    app = create_app(bundle, model=model)
    profile = os.environ.get(PROFILE_ENV)
    profiler = ThreadProfiler().start() if profile else None
    try:
        run_service(app, "127.0.0.1", port)  # as `tabpipe serve` runs it
    except KeyboardInterrupt:
        pass  # how server() stops it
    finally:
        if profiler is not None and profile:
            profiler.stop()
            profiler.dump(Path(profile))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serving", description=__doc__)
    parser.add_argument("--serve", choices=list(BACKENDS), help="(internal) run one server")
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--port", type=int)
    parser.add_argument("--quick", action="store_true", help="fewer requests, shorter runs")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.bundle, args.port)
        return 0
    result = run(Path.cwd(), settings=QUICK if args.quick else Settings())
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), indent=2, default=str))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
