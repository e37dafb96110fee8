"""Infra validation, the part that runs inside the serving environment (TFX InfraValidator).

Run by ``tabpipe infra-validate`` with the interpreter of a clean environment that holds
only the serving dependencies. It proves, in that environment:

1. the environment is clean: pandas, scikit-learn and pandera cannot even be imported;
2. the bundle loads (metadata belongs to this model.onnx, graph inputs match it);
3. the model's input signature matches the data contract (names, order, kinds, nulls,
   ranges, categories), as derived independently from ``contracts/`` and ``params.yaml``;
4. the service starts as its own process and answers real rows over HTTP on loopback,
   one by one and as a batch, with finite answers and the same answer both ways, within
   the latency budget (p99 of the one-row requests);
5. it refuses a NaN with 422 and reports the bundle's version in ``/metadata``.

Exit status 0 only if every check passed; the report (JSON) lists each check.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from tabpipe.serving.runtime import ModelLoadError, ServingModel

MUST_BE_ABSENT = ("pandas", "sklearn", "pandera", "dvc")
SERVING_PACKAGES = ("onnxruntime", "numpy", "fastapi", "pydantic", "uvicorn")
SIGNATURE_KEYS = ("name", "kind", "nullable", "minimum", "maximum", "categories")
START_TIMEOUT_S = 60.0


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    latency: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [asdict(c) for c in self.checks],
            "latency": self.latency,
            "environment": self.environment,
        }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank), q in [0, 100]."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def signature_differences(
    expected: Sequence[Mapping[str, Any]], actual: Sequence[Mapping[str, Any]]
) -> list[str]:
    """How the model's serving signature differs from the one the contract implies."""
    problems = []
    names_expected = [str(f["name"]) for f in expected]
    names_actual = [str(f["name"]) for f in actual]
    if names_expected != names_actual:
        problems.append(f"features {names_actual} != contract/params {names_expected}")
        return problems
    for want, have in zip(expected, actual, strict=True):
        for key in SIGNATURE_KEYS:
            if key == "categories" and (want.get("kind") != "categorical" or w_any(want)):
                continue
            w, h = want.get(key), have.get(key)
            if isinstance(w, int | float) and isinstance(h, int | float):
                same = math.isclose(float(w), float(h))
            else:
                same = w == h
            if not same:
                problems.append(f"{want['name']}.{key}: model {h!r}, contract {w!r}")
    return problems


def w_any(feature: Mapping[str, Any]) -> bool:
    """A categorical feature whose contract lists no categories accepts the model's."""
    return feature.get("categories") is None


def environment_facts() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in SERVING_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    present = [m for m in MUST_BE_ABSENT if importlib.util.find_spec(m) is not None]
    return {
        "python": platform.python_version(),
        "executable": sys.executable,
        "packages": versions,
        "unexpectedly_present": present,
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(
    method: str, url: str, body: bytes | None = None, content_type: str = "application/json"
) -> tuple[int, Any, float]:
    """(status, parsed JSON body, seconds) of one request; HTTP errors are answers too."""
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", content_type)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    elapsed = time.perf_counter() - started
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return status, parsed, elapsed


def start_service(bundle: Path, port: int) -> subprocess.Popen[bytes]:
    """The service as its own process, as it is deployed (same interpreter, same env)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tabpipe.serving.app",
            "--model-dir",
            str(bundle),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(os.environ),
    )


def wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float) -> str | None:
    """None when /ready answers 200; otherwise why not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode("utf-8", "replace") if process.stdout else ""
            return f"the service exited with {process.returncode}: {output.strip()[-2000:]}"
        try:
            status, _, _ = http("GET", f"{base}/ready")
            if status == 200:
                return None
        except OSError:
            pass
        time.sleep(0.1)
    return f"/ready did not answer 200 within {timeout:.0f}s"


def _finite_answer(prediction: Mapping[str, Any], classes: Sequence[str]) -> bool:
    if "value" in prediction:
        return isinstance(prediction["value"], int | float) and math.isfinite(prediction["value"])
    probabilities = prediction.get("probabilities") or {}
    return (
        prediction.get("label") in classes
        and sorted(probabilities) == sorted(classes)
        and all(math.isfinite(p) and 0 <= p <= 1 for p in probabilities.values())
        and math.isclose(math.fsum(probabilities.values()), 1.0, abs_tol=1e-4)
    )


def same_answer(a: Mapping[str, Any], b: Mapping[str, Any], tolerance: float = 1e-5) -> bool:
    """Equal labels; values and probabilities equal within float32 rounding (batched kernels)."""
    if "value" in a or "value" in b:
        return math.isclose(a.get("value", math.nan), b.get("value", math.nan), rel_tol=tolerance)
    pa, pb = a.get("probabilities") or {}, b.get("probabilities") or {}
    return (
        a.get("label") == b.get("label")
        and pa.keys() == pb.keys()
        and all(math.isclose(pa[c], pb[c], abs_tol=tolerance) for c in pa)
    )


def _strip_version(answer: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "model_version"}


def exercise_service(
    base: str,
    rows: Sequence[Mapping[str, Any]],
    model: ServingModel,
    budget_ms: float,
    report: Report,
) -> None:
    """Real requests: one row at a time (timed), then one batch, then a NaN."""
    answers, millis = [], []
    for row in rows:
        status, answer, elapsed = http("POST", f"{base}/predict", json.dumps(row).encode())
        if status != 200:
            report.add("answers real rows", False, f"a test row got {status}: {answer}")
            return
        answers.append(answer)
        millis.append(elapsed * 1000)
    bad = [a for a in answers if not _finite_answer(a, model.classes)]
    outcome = "all answered" if not bad else f"{len(bad)} malformed answers, e.g. {bad[0]}"
    report.add("answers real rows", not bad, f"{len(rows)} test rows, one request each: {outcome}")

    p50, p99 = percentile(millis, 50), percentile(millis, 99)
    report.latency = {
        "requests": len(millis),
        "p50_ms": round(p50, 3),
        "p99_ms": round(p99, 3),
        "budget_ms": budget_ms,
    }
    report.add(
        "latency budget",
        p99 <= budget_ms,
        f"one-row requests over loopback HTTP: p50 {p50:.2f} ms, p99 {p99:.2f} ms "
        f"(budget: p99 <= {budget_ms:g} ms)",
    )

    batch_rows = list(rows)[: model_max_batch(base)]
    status, batch, _ = http(
        "POST", f"{base}/predict/batch", json.dumps({"rows": batch_rows}).encode()
    )
    singles = [_strip_version(a) for a in answers[: len(batch_rows)]]
    same = (
        status == 200
        and isinstance(batch, dict)
        and len(batch.get("predictions", [])) == len(singles)
        and all(map(same_answer, batch["predictions"], singles))
    )
    report.add(
        "batch agrees with single rows", same, f"/predict/batch of {len(batch_rows)}: {status}"
    )

    numeric = next((f.name for f in model.features if f.kind == "numeric"), None)
    if numeric is not None:
        hostile = json.dumps({**rows[0], numeric: "NaN-marker"}).replace('"NaN-marker"', "NaN")
        status, answer, _ = http("POST", f"{base}/predict", hostile.encode())
        named = isinstance(answer, dict) and numeric in str(answer.get("message"))
        report.add(
            "refuses NaN with 422",
            status == 422 and named,
            f"NaN in {numeric!r}: {status} {answer}",
        )


def model_max_batch(base: str) -> int:
    status, meta, _ = http("GET", f"{base}/metadata")
    return int(meta["max_batch"]) if status == 200 else 1


def validate(
    bundle: Path,
    expected: Sequence[Mapping[str, Any]],
    rows: Sequence[Mapping[str, Any]],
    budget_ms: float,
    *,
    service_starter: Callable[[Path, int], subprocess.Popen[bytes]] = start_service,
) -> Report:
    report = Report(environment=environment_facts())
    present = report.environment["unexpectedly_present"]
    report.add(
        "clean serving environment",
        not present,
        "only the serving dependencies are installed"
        if not present
        else f"{', '.join(present)} importable: this is not the serving environment",
    )
    try:
        model = ServingModel(bundle)
    except ModelLoadError as exc:
        report.add("model loads", False, str(exc))
        return report
    report.add(
        "model loads", True, f"{bundle}: version {model.version}, {len(model.features)} inputs"
    )
    actual = model.metadata["inputs"]
    problems = signature_differences(expected, actual)
    report.add(
        "input signature matches the data contract",
        not problems,
        "; ".join(problems)
        or f"{len(expected)} features: names, order, kinds, nulls, ranges, categories",
    )
    if not rows:
        report.add("answers real rows", False, "no sample rows were given")
        return report
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = service_starter(bundle, port)
    try:
        failure = wait_ready(base, process, START_TIMEOUT_S)
        if not report.add("service starts", failure is None, failure or f"ready on {base}"):
            return report
        exercise_service(base, rows, model, budget_ms, report)
        status, meta, _ = http("GET", f"{base}/metadata")
        served = meta.get("model_version") if isinstance(meta, dict) else None
        report.add(
            "metadata names the version",
            status == 200 and served == model.version,
            f"/metadata: {served}",
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tabpipe.serving.infra_check", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--expected", type=Path, required=True, help="signature from the contract")
    parser.add_argument("--sample", type=Path, required=True, help="JSON list of rows")
    parser.add_argument("--budget-ms", type=float, required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args(argv)
    expected = json.loads(args.expected.read_text(encoding="utf-8"))
    rows = json.loads(args.sample.read_text(encoding="utf-8"))
    report = validate(args.bundle, expected, rows, args.budget_ms)
    args.report.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    for check in report.checks:
        print(f"[infra] {'PASS' if check.ok else 'FAIL'} {check.name}: {check.detail}", flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
