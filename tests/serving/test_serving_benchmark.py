"""The serving benchmark: same model behind the same service, requests counted, section written.

Nothing here depends on how fast the machine is: the load runs send a fixed number of
requests (locust stops when the last one is answered; its run-time is only a bound) and the
checks are on what was counted and written, never on a duration.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time

import pandas as pd
import pytest

from benchmarks import profiler, serving
from benchmarks.timing import Percentiles
from tabpipe.core.paths import PATHS
from tabpipe.serving.runtime import ServingModel


@pytest.fixture(scope="module")
def bench_bundle(bundle_dir, pipeline_project, tmp_path_factory):
    """The test bundle plus the scikit-learn Pipeline it was exported from."""
    copy = tmp_path_factory.mktemp("bench") / "bundle"
    shutil.copytree(bundle_dir, copy)
    shutil.copy(pipeline_project / PATHS.model, copy / "model.joblib")
    return copy


@pytest.fixture(scope="module")
def kinds_bench(kinds_bundle, tmp_path_factory):
    """The same for a table with booleans and integer codes (any project), and its rows."""
    copy = tmp_path_factory.mktemp("bench-kinds") / "bundle"
    shutil.copytree(kinds_bundle, copy)
    shutil.copy(kinds_bundle.parents[1] / PATHS.model, copy / "model.joblib")
    names = [f.name for f in ServingModel(copy).features]
    frame = pd.read_parquet(kinds_bundle.parents[1] / PATHS.test_split)
    return copy, json.loads(frame[names].head(30).to_json(orient="records"))


def test_the_scikit_learn_backend_answers_like_the_onnx_service(bench_bundle, test_rows):
    assert_same_answers(bench_bundle, test_rows[:30])


def test_the_scikit_learn_backend_takes_booleans_and_integer_codes(kinds_bench):
    # It sent the model only numeric and text-categorical columns ("columns are missing:
    # {'freezing'}" on Seattle weather's boolean).
    bundle, rows = kinds_bench
    assert {f.kind for f in ServingModel(bundle).features} >= {"boolean", "categorical"}
    assert_same_answers(bundle, rows)
    measured = serving.in_process(bundle, rows, 7, calls=3)
    assert measured.sklearn.n == 3


def assert_same_answers(bundle, rows):
    onnx_model, sklearn_model = ServingModel(bundle), serving.SklearnServingModel(bundle)
    expected, actual = onnx_model.predict_rows(rows), sklearn_model.predict_rows(rows)
    assert [p.label for p in actual] == [p.label for p in expected]
    for a, e in zip(actual, expected, strict=True):
        if e.probabilities is None:  # regression
            assert a.value == pytest.approx(e.value, rel=1e-4)
            continue
        assert a.probabilities is not None and a.probabilities.keys() == e.probabilities.keys()
        assert all(abs(a.probabilities[c] - e.probabilities[c]) < 1e-4 for c in a.probabilities)


def test_load_runs_count_every_request_they_send(bench_bundle, test_rows, tmp_path, root):
    rows_file = tmp_path / "rows.json"
    rows_file.write_text(json.dumps(test_rows[:20]))
    profile = tmp_path / "profile.json"
    with serving.server("onnx", bench_bundle, root, profile=profile) as (base, port):
        result = serving.concurrent(
            "onnx", "batch", base, rows_file, users=2, duration_s=120, batch_rows=10,
            out=tmp_path, requests=30,
        )  # fmt: skip
        single = serving.sequential(port, "/predict", serving.bodies(test_rows, "single", 1), 25)
    assert (result.requests, result.failures, result.rows_per_request) == (30, 0, 10)
    assert result.rows_per_s == pytest.approx(result.requests_per_s * 10)
    assert 0 < result.p50_ms <= result.p99_ms
    assert single.n == 25 and 0 < single.p50_ns <= single.p99_ns
    measured = serving.read_profile(profile, "batch", 10, 30, single)
    assert measured.threads >= 2, "the event loop's thread and the endpoints' worker threads"
    assert measured.busy_s > 0 and measured.waiting_s > 0 and measured.process_cpu_s > 0
    assert set(measured.busy) <= {name for name, _ in profiler.COMPONENTS} | {profiler.OTHER}


def test_in_process_timings_cover_the_model_the_runtime_and_scikit_learn(bench_bundle, test_rows):
    measured = serving.in_process(bench_bundle, test_rows, 7, calls=5)
    assert measured.rows == 7
    assert all(p.n == 5 for p in (measured.session_run, measured.runtime, measured.sklearn))


def _python_work() -> int:
    return sum(i * i for i in range(200_000))


def test_the_profiler_charges_each_thread_s_work_and_not_its_waiting():
    data = b"x" * 4_000_000

    def work() -> None:
        for _ in range(5):
            _python_work()
            hashlib.sha256(data).digest()  # native, releases the GIL: counts for work()

    profile = profiler.ThreadProfiler().start()
    threads = [threading.Thread(target=work), threading.Thread(target=time.sleep, args=(0.5,))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    profile.stop()
    own = {key[2]: value[2] for key, value in profile.stats.items()}
    assert own["_python_work"] > 0 and own["<genexpr>"] > 0, "a thread started after start()"
    totals = profiler.by_component(profile.stats)
    assert totals[profiler.WAITING_KEY] >= 0.5, "the sleeping thread's half second is waiting"
    assert "time.sleep" not in str(set(totals)), "waiting is not a component of the work"
    assert totals[profiler.OTHER] >= own["<built-in method _hashlib.openssl_sha256>"], (
        "a builtin no component names counts for the Python function that called it"
    )
    assert profiler.component_of(("~", 0, "<method 'run' of 'onnxruntime.X' objects>")) == (
        "onnxruntime `session.run`"
    )


def _percentiles(ms: float) -> Percentiles:
    return Percentiles(100, ms * 1e6, ms * 2e6, ms * 1.1e6)


def test_the_section_puts_both_backends_side_by_side():
    settings = serving.Settings(users=8, duration_s=20, batch_rows=1000)
    result = serving.ServingResult(
        "hist_gradient_boosting",
        settings,
        "2.47.0",
        sequential=[
            serving.Sequential("onnx", "single", 1, _percentiles(1.5)),
            serving.Sequential("sklearn", "single", 1, _percentiles(9.0)),
            serving.Sequential("onnx", "batch", 1000, _percentiles(40.0)),
        ],
        concurrent=[
            serving.LoadResult("onnx", "single", 1, 1000, 0, 400.0, 2.0, 9.0),
            serving.LoadResult("sklearn", "single", 1, 100, 0, 40.0, 20.0, 90.0),
            serving.LoadResult("onnx", "batch", 1000, 300, 0, 30.0, 30.0, 120.0),
            serving.LoadResult("sklearn", "batch", 1000, 100, 1, 10.0, 95.0, 310.0),
        ],
        in_process=[
            serving.InProcess(1, _percentiles(0.1), _percentiles(0.3), _percentiles(5.0)),
            serving.InProcess(1000, _percentiles(2.0), _percentiles(20.0), _percentiles(30.0)),
        ],
        profiles=[
            serving.Profile(
                "single",
                1,
                100,
                {"JSON": 1.0, "HTTP server": 3.0},
                9.0,
                5.0,
                3,
                _percentiles(4.5),
            )
        ],
    )
    text = serving.markdown(result)
    assert "| 1 row (`/predict`) | onnx | 1,000 | 0 | 2.0 | 9.0 | 400 | 400 |" in text
    assert "| 1,000 rows (`/predict/batch`) | sklearn | 100 | 1 | 95 | 310 | 10 | 10,000 |" in text
    assert "| 1 row (`/predict`) | onnx | 1.5 | 3.0 | 1.6 | 1,500 |" in text
    assert "budget: p99 under 5 ms: met" in text
    assert "onnxruntime serves 10.0x the requests per second of scikit-learn" in text
    assert "took 15x the bare `session.run`" in text and "more than 10x" in text
    assert "| HTTP server | 75% |" in text
    assert "1 row (`/predict`) took 4.5 ms at p50 under the profiler against 1.5 ms without" in text
