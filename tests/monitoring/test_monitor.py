"""tabpipe monitor: the newest batch and feedback, both checks, one summary, one exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tabpipe.core.exit_status import ExitStatus
from tabpipe.monitoring import monitor
from tabpipe.monitoring.batch import check_batch
from tests.support.monitoring import (
    drift_kind,
    with_drift_thresholds,
    worse_feedback_guard,
    write_champion,
    write_profile,
    write_simulated,
)
from tests.support.workspace import skip_if_the_gate_refused


@pytest.fixture
def monitored(project: Path, raw, params, contract) -> Path:
    write_profile(raw, params, contract, project / "reports" / "reference_profile.json")
    return project


def test_the_newest_table_by_name_is_the_latest_batch(tmp_path):
    assert monitor.newest(tmp_path / "absent") is None
    for name in ("2024-05-01.csv", "2024-06-01.parquet", "notes.txt", "2024-04-30.csv"):
        (tmp_path / name).write_text("x")
    assert monitor.newest(tmp_path) == tmp_path / "2024-06-01.parquet"


def test_nothing_to_check_exits_0(monitored, monkeypatch, tmp_path):
    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    assert monitor.main(["--out", "out"]) == 0
    lines = output.read_text().splitlines()
    assert "status=0" in lines and "retrain=false" in lines
    assert all("=" in line for line in lines), "Actions rejects blank output lines"
    assert json.loads((monitored / "out" / "summary.json").read_text())["checks"] == []


def test_the_plan_names_the_newest_batch_and_feedback(monitored, raw, params, contract, capsys):
    write_simulated(raw, params, contract, monitored / params.monitor.incoming / "a.csv", "clean")
    write_simulated(raw, params, contract, monitored / params.monitor.incoming / "b.csv", "clean")
    assert monitor.main(["--plan"]) == 0
    out = capsys.readouterr().out
    assert f"batch={params.monitor.incoming / 'b.csv'}\n" in out and "feedback=\n" in out


def test_drift_and_degradation_together_exit_4_and_list_both(
    monitored, raw, params, contract, monkeypatch, tmp_path
):
    incoming, feedback = monitored / params.monitor.incoming, monitored / params.monitor.feedback
    skip_if_the_gate_refused("concept drift has no performance to take away")
    kind = drift_kind(raw, params)
    write_simulated(raw, params, contract, incoming / "b.csv", kind)
    write_simulated(raw, params, contract, feedback / "f.csv", "concept-drift")
    champion = write_champion(raw, params, contract, monitored / "models" / "model.onnx")
    thresholds = worse_feedback_guard(params, champion)
    settings = with_drift_thresholds(params).model_dump(mode="json")
    settings["monitor"]["degradation"]["thresholds"] = thresholds
    (monitored / "p.yaml").write_text(json.dumps(settings))
    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    summary_md = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_md))

    assert monitor.main(["--params", "p.yaml", "--out", "out"]) == ExitStatus.DEGRADATION

    summary = json.loads((monitored / "out" / "summary.json").read_text())
    assert summary["triggers"] == ["degradation", "drift"] and summary["retrain"] is True
    assert "status=4\n" in output.read_text() and "retrain=true\n" in output.read_text()
    assert "## Drift check" in summary_md.read_text()
    assert "## Degradation check" in summary_md.read_text()


def test_a_schema_break_asks_for_a_human_not_a_retrain(monitored, raw, params, contract):
    batch = monitored / "broken.csv"
    write_simulated(raw, params, contract, batch, "schema-break")
    assert monitor.main(["--batch", str(batch), "--out", "out"]) == ExitStatus.SCHEMA_SKEW
    summary = json.loads((monitored / "out" / "summary.json").read_text())
    assert summary["triggers"] == ["schema-skew"] and summary["retrain"] is False
    (check,) = summary["checks"]
    report = check_batch(batch, params, require_label=False).report
    broken = {failure.column or "(table)" for failure in report.failures}
    assert check["findings"] and set(check["findings"]) == broken


def test_a_check_that_cannot_run_is_an_error(monitored, raw, params, contract, capsys):
    feedback = monitored / "f.csv"
    write_simulated(raw, params, contract, feedback, "clean")
    assert monitor.main(["--feedback", str(feedback), "--out", "out"]) == ExitStatus.ERROR
    assert "no champion model" in capsys.readouterr().err
