"""The serving benchmark compares the same model behind the same service, and reads locust."""

from __future__ import annotations

import json
import shutil

import pytest

from benchmarks import serving
from tabpipe.core.paths import PATHS
from tabpipe.serving.runtime import ServingModel


@pytest.fixture(scope="module")
def bench_bundle(bundle_dir, pipeline_project, tmp_path_factory):
    """The test bundle plus the scikit-learn Pipeline it was exported from."""
    copy = tmp_path_factory.mktemp("bench") / "bundle"
    shutil.copytree(bundle_dir, copy)
    shutil.copy(pipeline_project / PATHS.model, copy / "model.joblib")
    return copy


def test_the_scikit_learn_backend_answers_like_the_onnx_service(bench_bundle, test_rows):
    onnx_model, sklearn_model = (
        ServingModel(bench_bundle),
        serving.SklearnServingModel(bench_bundle),
    )
    rows = test_rows[:30]
    expected, actual = onnx_model.predict_rows(rows), sklearn_model.predict_rows(rows)
    assert [p.label for p in actual] == [p.label for p in expected]
    for a, e in zip(actual, expected, strict=True):
        if e.probabilities is None:  # regression
            assert a.value == pytest.approx(e.value, rel=1e-4)
            continue
        assert a.probabilities is not None and a.probabilities.keys() == e.probabilities.keys()
        assert all(abs(a.probabilities[c] - e.probabilities[c]) < 1e-4 for c in a.probabilities)


def test_a_short_load_run_is_measured_through_locust(bench_bundle, test_rows, tmp_path, root):
    rows_file = tmp_path / "rows.json"
    rows_file.write_text(json.dumps(test_rows[:20]))
    result = serving.measure(
        "onnx",
        "batch",
        bench_bundle,
        rows_file,
        root,
        users=2,
        duration_s=6,
        batch_rows=10,
        out=tmp_path,
    )
    assert result.requests > 0 and result.failures == 0
    assert result.rows_per_request == 10 and result.rows_per_s == pytest.approx(
        result.requests_per_s * 10
    )
    assert 0 < result.p50_ms <= result.p99_ms


def test_the_section_puts_both_backends_side_by_side():
    results = [
        serving.LoadResult("onnx", "single", 1, 1000, 0, 400.0, 2.0, 9.0),
        serving.LoadResult("sklearn", "single", 1, 100, 0, 40.0, 20.0, 90.0),
        serving.LoadResult("onnx", "batch", 100, 300, 0, 30.0, 30.0, 120.0),
        serving.LoadResult("sklearn", "batch", 100, 100, 1, 10.0, 95.0, 310.0),
    ]
    text = serving.markdown(
        serving.ServingResult("gradient_boosting", 8, 20, 100, "2.47.0", results)
    )
    assert "| 1 row (`/predict`) | onnx | 1,000 | 0 | 2 | 9 | 400 | 400 |" in text
    assert "| 100 rows (`/predict/batch`) | sklearn | 100 | 1 | 95 | 310 | 10 | 1,000 |" in text
    assert "single: onnxruntime serves 10.0x the requests per second of scikit-learn" in text
    assert "batch: onnxruntime serves 3.0x" in text
