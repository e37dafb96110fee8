"""Drift check: TFDV's measures, thresholds that fire only when configured, and the verdicts.

The batches come from ``tabpipe simulate`` on the project's own raw data: an undrifted
batch passes, each kind of drift is found on exactly the features it changed, and a schema
break is schema skew (exit 2), not drift.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import entropy

from tabpipe.core.config import ConfigError
from tabpipe.core.exit_status import ExitStatus
from tabpipe.monitoring import drift
from tabpipe.monitoring.simulate import SimulationError, continuous_features
from tests.support.monitoring import (
    drift_kind,
    with_drift_thresholds,
    write_profile,
    write_simulated,
)

PROFILE = Path("reports/reference_profile.json")


def js_by_hand(p, q):
    p, q = np.asarray(p, float) / sum(p), np.asarray(q, float) / sum(q)
    m = (p + q) / 2
    return (entropy(p, m, base=2) + entropy(q, m, base=2)) / 2


def test_js_divergence_is_the_base_2_divergence_not_scipys_distance():
    p, q = [10, 20, 30, 0, 5], [20, 10, 5, 15, 5]
    assert drift.js_divergence(p, q) == pytest.approx(js_by_hand(p, q), abs=1e-12)
    assert drift.js_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    assert drift.js_divergence([1, 0], [0, 1]) == pytest.approx(1.0)  # disjoint: the maximum


def test_linf_distance_is_the_largest_share_difference_and_names_the_category():
    distance, where = drift.linf_distance({"a": 50, "b": 50}, {"a": 20, "b": 60, "c": 20})
    assert distance == pytest.approx(0.3) and where == "a"
    assert drift.linf_distance({"a": 5}, {"a": 9}) == (0.0, "")


def test_a_feature_without_a_threshold_is_measured_but_never_fires():
    measured = drift.FeatureDrift("x", "numeric", drift.JS, 0.9, None)
    assert not measured.drifted
    assert drift.FeatureDrift("x", "numeric", drift.JS, 0.9, 0.5).drifted
    assert not drift.FeatureDrift("x", "numeric", drift.JS, 0.5, 0.5).drifted  # strictly above


@pytest.fixture
def monitored(project: Path, raw, params, contract) -> Path:
    write_profile(raw, params, contract, project / PROFILE)
    return project


@pytest.fixture
def guarded(params):
    """Thresholds on every feature: an onboarded project starts with none."""
    return with_drift_thresholds(params)


def run(monitored: Path, raw, params, contract, kind: str, **options):
    batch = monitored / "incoming" / f"{kind}.csv"
    changed = write_simulated(raw, params, contract, batch, kind, **options)
    return drift.check_drift(batch, params, PROFILE), changed


@pytest.mark.parametrize("seed", [0, 1])
def test_an_undrifted_batch_passes_and_every_distance_is_recorded(
    monitored, raw, guarded, contract, seed
):
    report, _ = run(monitored, raw, guarded, contract, "clean", seed=seed, labelled=False)
    assert report.validation.ok, report.validation.summary()
    assert report.status is ExitStatus.NONE, report.summary()
    assert {f.name for f in report.features} == set(guarded.features.all)
    assert all(f.value is not None and 0 <= f.value <= 1 for f in report.features)


@pytest.mark.parametrize("kind", ["drift-numeric", "drift-categorical"])
def test_each_kind_of_drift_is_found_on_exactly_the_features_it_changed(
    monitored, raw, guarded, contract, kind
):
    kind_of_feature = "numeric" if kind == "drift-numeric" else "categorical"
    movable = (
        continuous_features(raw, guarded)
        if kind == "drift-numeric"
        else guarded.features.categorical
    )
    if not movable:  # simulate says what the table lacks
        with pytest.raises(SimulationError, match=kind_of_feature):
            run(monitored, raw, guarded, contract, kind)
        return
    report, changed = run(monitored, raw, guarded, contract, kind)
    assert changed, "the simulation changed nothing"
    assert report.status is ExitStatus.DRIFT, report.summary()
    assert sorted(report.drifted) == sorted(changed), report.summary()
    measured = {f.name: f for f in report.features}
    expected_measure = drift.JS if kind == "drift-numeric" else drift.LINF
    assert all(measured[name].measure == expected_measure for name in changed)


def test_with_no_thresholds_everything_is_measured_and_nothing_fires(
    monitored, raw, guarded, contract
):
    bare = guarded.model_copy(
        update={
            "monitor": guarded.monitor.model_copy(
                update={"drift": guarded.monitor.drift.model_copy(update={"thresholds": {}})}
            )
        }
    )
    kind = drift_kind(raw, guarded)
    report, changed = run(monitored, raw, bare, contract, kind)
    assert report.status is ExitStatus.NONE
    assert max(f.value for f in report.features if f.name in changed) > 0.1


def test_a_schema_break_is_schema_skew_not_drift(monitored, raw, guarded, contract):
    report, changed = run(monitored, raw, guarded, contract, "schema-break")
    assert report.status is ExitStatus.SCHEMA_SKEW
    failing = {failure.column for failure in report.validation.failures}
    assert set(changed) <= failing, report.validation.summary()
    if guarded.features.numeric:  # the renamed column cannot be measured
        renamed = next(f for f in report.features if f.name == guarded.features.numeric[0])
        assert renamed.value is None and "not in the batch" in renamed.detail["note"]


def test_the_cli_writes_both_reports_and_exits_with_the_trigger(
    monitored, raw, params, guarded, contract
):
    batch = monitored / "incoming" / "drifted.parquet"
    kind = drift_kind(raw, params)
    changed = write_simulated(raw, params, contract, batch, kind)
    (monitored / "guarded.yaml").write_text(json.dumps(guarded.model_dump(mode="json")))
    status = drift.main([str(batch), "--params", "guarded.yaml", "--out", "out"])
    assert status == ExitStatus.DRIFT == 3
    written = json.loads((monitored / "out" / "drift.json").read_text())
    assert written["trigger"] == "drift" and written["exit_status"] == 3
    assert len(written["features"]) == len(params.features.all)
    assert all(math.isfinite(f["value"]) for f in written["features"])
    markdown = (monitored / "out" / "drift.md").read_text()
    assert "🔴 **drift**" in markdown and f"`{changed[0]}`" in markdown
    assert "JS divergence" in markdown or "L∞ distance" in markdown


def test_thresholds_for_unknown_features_and_a_stale_profile_are_errors(monitored, params, capsys):
    typo = params.monitor.model_copy(
        update={"drift": params.monitor.drift.model_copy(update={"thresholds": {"Incme": 0.1}})}
    )
    with pytest.raises(ConfigError, match="Incme"):
        drift.check_thresholds(params.model_copy(update={"monitor": typo}))
    stale = json.loads(PROFILE.read_text())
    del stale["features"][params.features.all[0]]
    PROFILE.write_text(json.dumps(stale))
    assert drift.main(["whatever.csv"]) == ExitStatus.ERROR
    assert "dvc repro profile" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("write", "says"),
    [
        (None, "file not found"),
        (lambda p: p.write_bytes(b""), "empty (0 bytes)"),
        (lambda p: p.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256))), "binary file"),
        (lambda p: p.write_bytes(gzip.compress(b"a,b\n1,2\n")), "gzip-compressed"),
    ],
)
def test_a_batch_that_is_no_table_cannot_be_checked_exit_1_not_schema_skew(
    monitored, write, says, capsys
):
    """Defect: a missing, empty or binary file exited 2 (schema skew) instead of 1."""
    path = monitored / "incoming" / "batch.csv"
    path.parent.mkdir(exist_ok=True)
    if write is not None:
        write(path)
    assert drift.main([str(path)]) == ExitStatus.ERROR == 1
    err = capsys.readouterr().err
    assert "could not run" in err and says in err
    assert not (monitored / "build" / "monitoring" / "drift.json").exists()


def test_a_missing_feature_is_shown_as_not_measured_not_ok(monitored, raw, params, capsys):
    dropped = params.features.all[0]
    batch = monitored / "incoming" / "fewer.csv"
    batch.parent.mkdir(exist_ok=True)
    raw.drop(columns=[dropped]).head(300).to_csv(batch, index=False)
    assert drift.main([str(batch)]) == ExitStatus.SCHEMA_SKEW
    line = next(s for s in capsys.readouterr().out.splitlines() if f" {dropped} " in s)
    assert line.split()[0] == "n/a" and "not measured" in line, line
