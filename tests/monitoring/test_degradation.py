"""Degradation check: the champion on labelled feedback, against its recorded test metrics.

The champion is a small model exported with its test metrics in its ONNX metadata, as the
export stage does. Clean feedback keeps its metrics; feedback whose labels changed
(``simulate --kind concept-drift``) degrades them and fires exit 4; feedback that breaks
the contract is schema skew; too few rows are not scored.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tabpipe.core.config import Params
from tabpipe.core.exit_status import ExitStatus
from tabpipe.monitoring import degradation
from tabpipe.monitoring.degradation import DegradationError, MetricCheck
from tests.support.monitoring import worse_feedback_guard, write_champion, write_simulated
from tests.support.workspace import skip_if_the_gate_refused

MODEL = Path("models/model.onnx")


def with_thresholds(params: Params, thresholds: dict[str, float], min_rows: int = 100) -> Params:
    settings = params.monitor.degradation.model_copy(
        update={"thresholds": thresholds, "min_rows": min_rows}
    )
    monitor = params.monitor.model_copy(update={"degradation": settings})
    return params.model_copy(update={"monitor": monitor})


@pytest.fixture
def champion(project: Path, raw, params, contract) -> dict[str, float]:
    return write_champion(raw, params, contract, project / MODEL)


@pytest.fixture
def guarded(params: Params) -> Params:
    """A threshold on one metric of the task (so the test holds for any onboarded dataset),
    wide enough for the sampling noise of 1,000 rows scored by a quick linear champion."""
    metric = "accuracy" if params.data.task.is_classification else "r2"
    return with_thresholds(params, {metric: 0.1})


def test_worsening_is_signed_by_which_direction_is_better():
    assert MetricCheck("roc_auc", 0.85, 0.80, 0.04).degraded
    assert not MetricCheck("roc_auc", 0.85, 0.90, 0.04).degraded
    assert MetricCheck("log_loss", 0.40, 0.50, 0.05).worsening == pytest.approx(0.10)
    assert not MetricCheck("log_loss", 0.40, 0.50, None).degraded  # no threshold: recorded only


def test_clean_feedback_does_not_fire(champion, project, raw, params, contract, guarded):
    write_simulated(raw, params, contract, project / "fb.csv", "clean")
    report = degradation.check_degradation(project / "fb.csv", guarded, MODEL)
    assert report.status is ExitStatus.NONE, report.summary()
    assert {c.metric for c in report.checks} == set(champion)


@pytest.fixture
def watched(params: Params, champion: dict[str, float]) -> Params:
    """A threshold that feedback with a third of its labels changed crosses, from the
    champion's margin over a guess (at most 0.1)."""
    return with_thresholds(params, worse_feedback_guard(params, champion))


def test_a_deliberately_worse_feedback_set_fires(champion, project, raw, params, contract, watched):
    skip_if_the_gate_refused("a worse feedback set has no performance to take away")
    write_simulated(raw, params, contract, project / "fb.csv", "concept-drift")
    report = degradation.check_degradation(project / "fb.csv", watched, MODEL)
    assert report.status is ExitStatus.DEGRADATION, report.summary()
    ((metric, threshold),) = watched.monitor.degradation.thresholds.items()
    assert report.degraded == [metric]
    check = next(c for c in report.checks if c.metric == metric)
    assert check.champion == champion[metric] and check.worsening > threshold
    assert "🔴 **degradation**" in report.markdown()


def test_the_cli_writes_reports_and_exits_4(champion, project, raw, params, contract, watched):
    skip_if_the_gate_refused("a worse feedback set has no performance to take away")
    write_simulated(raw, params, contract, project / "fb.csv", "concept-drift")
    (project / "guarded.yaml").write_text(json.dumps(watched.model_dump(mode="json")))
    status = degradation.main(["fb.csv", "--params", "guarded.yaml", "--out", "out"])
    assert status == ExitStatus.DEGRADATION == 4
    written = json.loads((project / "out" / "degradation.json").read_text())
    assert written["trigger"] == "degradation" and written["degraded_metrics"]


def test_feedback_that_breaks_the_contract_is_schema_skew(champion, project, raw, params, contract):
    write_simulated(raw, params, contract, project / "fb.csv", "clean", labelled=False)
    report = degradation.check_degradation(project / "fb.csv", params, MODEL)
    assert report.status is ExitStatus.SCHEMA_SKEW and report.checks == []


def test_too_few_rows_are_not_scored(champion, project, raw, params, contract, guarded):
    write_simulated(raw, params, contract, project / "fb.csv", "concept-drift", rows=50)
    report = degradation.check_degradation(project / "fb.csv", guarded, MODEL)
    assert not report.scored and report.status is ExitStatus.NONE
    assert "not scored" in report.markdown()


def test_a_missing_model_and_an_unknown_metric_are_errors(project, params):
    with pytest.raises(DegradationError, match="no champion model"):
        degradation.load_champion(project / "nowhere.onnx")
    with pytest.raises(Exception, match="roc_acu"):
        degradation.check_thresholds({"roc_acu": 0.1})


def test_thresholds_only_on_another_tasks_metrics_are_called_out(
    champion, project, raw, params, contract, guarded
):
    """A regression project that kept the template's classification thresholds could never
    fire; the check says so instead of reporting "no degradation" as if it had looked."""
    other = "r2" if params.data.task.is_classification else "roc_auc"
    write_simulated(raw, params, contract, project / "fb.csv", "concept-drift")
    only_other = with_thresholds(params, {other: 0.05})
    report = degradation.check_degradation(project / "fb.csv", only_other, MODEL)
    assert report.status is ExitStatus.NONE and report.not_applicable == [other]
    assert report.applicable == []
    assert f"thresholds on {other} do not apply to this model; none does, so nothing can fire" in (
        report.summary()
    )
    assert "degradation can never fire" in report.markdown()
    both = with_thresholds(params, {other: 0.05, **guarded.monitor.degradation.thresholds})
    kept = degradation.check_degradation(project / "fb.csv", both, MODEL)
    assert kept.applicable == list(guarded.monitor.degradation.thresholds)
    assert f"thresholds on {other} do not apply" in kept.summary()
    assert "nothing can fire" not in kept.summary() and "never fire" not in kept.markdown()
