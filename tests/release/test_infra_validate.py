"""Infra validation: the bundle serves real rows in an environment holding only the service."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tabpipe.core.config import load_params
from tabpipe.core.paths import PATHS
from tabpipe.release import infra_validate
from tabpipe.serving import infra_check
from tabpipe.serving.runtime import METADATA_FILE
from tests.support.scratch import inside


def test_the_bundle_passes_in_a_clean_environment_built_from_the_lock(
    pipeline_project, bundle_dir, tmp_path, capsys
):
    env = tmp_path / "serve-env"
    with inside(pipeline_project):
        code = infra_validate.main(["--bundle", str(bundle_dir), "--env", str(env)])
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads((bundle_dir / infra_validate.REPORT_FILE).read_text())
    assert report["ok"] is True
    assert {c["name"] for c in report["checks"]} >= {
        "clean serving environment",
        "model loads",
        "input signature matches the data contract",
        "service starts",
        "answers real rows",
        "latency budget",
        "batch agrees with single rows",
        "refuses NaN with 422",
        "metadata names the version",
    }
    environment = report["environment"]
    assert environment["executable"].startswith(str(env))
    assert environment["unexpectedly_present"] == []
    assert all(environment["packages"][p] for p in infra_check.SERVING_PACKAGES)
    rows = load_params(pipeline_project / "params.yaml").release.infra_sample_rows
    test_split = pd.read_parquet(pipeline_project / PATHS.test_split)
    assert report["latency"]["requests"] == min(rows, len(test_split))
    assert "[infra] PASSED" in out


def test_outside_the_clean_environment_and_over_budget_it_fails_and_says_why(
    pipeline_project, bundle_dir, test_rows
):
    with inside(pipeline_project):
        expected = infra_validate.expected_signature(load_params())
    report = infra_check.validate(bundle_dir, expected, test_rows[:5], budget_ms=1e-6)
    checks = {c.name: c for c in report.checks}
    assert not report.ok
    assert not checks["clean serving environment"].ok  # this test process has pandas
    assert "pandas" in checks["clean serving environment"].detail
    assert (
        not checks["latency budget"].ok
        and "budget: p99 <= 1e-06 ms" in checks["latency budget"].detail
    )
    assert checks["answers real rows"].ok and checks["input signature matches the data contract"].ok


def test_a_contract_that_moved_on_from_the_model_fails_the_signature_check(
    pipeline_project, bundle_dir, signature
):
    with inside(pipeline_project):
        expected = infra_validate.expected_signature(load_params())
    numeric = next(i for i, f in enumerate(expected) if f["kind"] == "numeric")
    categorical = next((i for i, f in enumerate(expected) if f["kind"] == "categorical"), None)
    expected[numeric] = {**expected[numeric], "maximum": 7.0}
    if categorical is not None:  # numeric-only data has no categories to move
        expected[categorical] = {**expected[categorical], "categories": ["only-this"]}
    problems = infra_check.signature_differences(expected, signature)
    assert f"{expected[numeric]['name']}.maximum: model" in problems[0]
    if categorical is not None:
        name = expected[categorical]["name"]
        assert any(p.startswith(f"{name}.categories") for p in problems)
    reordered = [expected[-1], *expected[:-1]]
    assert "features" in infra_check.signature_differences(reordered, signature)[0]


def test_a_model_that_cannot_load_stops_before_serving(bundle_dir, tmp_path, signature):
    (tmp_path / METADATA_FILE).write_text((bundle_dir / METADATA_FILE).read_text())
    report = infra_check.validate(tmp_path, signature, [{}], budget_ms=100)
    assert [c.name for c in report.checks][-1] == "model loads"
    assert not report.ok and "model.onnx: not found" in report.checks[-1].detail


def test_percentiles_use_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert infra_check.percentile(values, 50) == 50.0
    assert infra_check.percentile(values, 99) == 99.0
    assert infra_check.percentile([3.0], 99) == 3.0
    with pytest.raises(ValueError):
        infra_check.percentile([], 50)
