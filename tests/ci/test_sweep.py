"""tabpipe.ci.sweep: a grid checked against params, its cells, one run, the comparison table."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tabpipe.ci import sweep
from tabpipe.core.paths import PARAMS_FILE

ROOT = Path(__file__).resolve().parents[2]
RAW = yaml.safe_load((ROOT / PARAMS_FILE).read_text())
GB = "train.gradient_boosting"


def test_a_grid_expands_to_every_combination_as_dvc_overrides():
    grid = sweep.parse_grid(
        json.dumps({f"{GB}.n_estimators": [50, 100], f"{GB}.learning_rate": [0.05, 0.1]})
    )
    cells = sweep.expand(grid, RAW)
    assert [c.id for c in cells] == ["cell-1", "cell-2", "cell-3", "cell-4"]
    assert cells[1].overrides == [f"{GB}.n_estimators=50", f"{GB}.learning_rate=0.1"]
    assert cells[3].values == {f"{GB}.n_estimators": 100, f"{GB}.learning_rate": 0.1}
    assert sweep.format_value(True) == "true"


def test_yaml_grids_and_single_values_are_accepted():
    grid = sweep.parse_grid("train.family: [linear, random_forest]\nsplit.stratify: false\n")
    cells = sweep.expand(grid, RAW)
    assert [c.overrides for c in cells] == [
        ["train.family=linear", "split.stratify=false"],
        ["train.family=random_forest", "split.stratify=false"],
    ]


def test_an_unknown_param_is_named_with_the_closest_known_ones():
    with pytest.raises(
        sweep.SweepError,
        match=rf"unknown param '{GB}\.n_estimator'.*did you mean {GB}\.n_estimators",
    ):
        sweep.expand({f"{GB}.n_estimator": [1]}, RAW)
    with pytest.raises(sweep.SweepError, match="is a dict, not a single value"):
        sweep.expand({"train.linear": [1]}, RAW)


def test_a_value_params_would_refuse_names_the_cell_and_the_field():
    with pytest.raises(sweep.SweepError) as error:
        sweep.expand({f"{GB}.n_estimators": [10, 0]}, RAW)
    message = str(error.value)
    assert message.startswith(f"cell-2 ({GB}.n_estimators=0)") and "greater than 0" in message
    with pytest.raises(sweep.SweepError, match=r"train\.family"):
        sweep.expand({"train.family": ["no_such_family"]}, RAW)


def test_grids_over_the_cap_and_malformed_grids_are_refused():
    with pytest.raises(sweep.SweepError, match=r"3 x 2 = 6 cells; the cap is 4"):
        sweep.expand({"train.seed": [1, 2, 3], "split.seed": [1, 2]}, RAW, max_cells=4)
    for bad, fragment in [
        ("[1, 2]", "non-empty mapping"),
        ("{train.seed: []}", "at least one value"),
        ("{train.seed: [[1]]}", "not a single value"),
        ("{train.seed: [1, 1]}", "values repeat"),
        ("{train.family: ['a b']}", "letters, digits"),
        ("{: [", "not valid JSON or YAML"),
    ]:
        with pytest.raises(sweep.SweepError, match=fragment):
            sweep.parse_grid(bad)


def test_expand_writes_the_matrix_to_the_github_output(tmp_path, capsys):
    output = tmp_path / "out"
    code = sweep.main(
        [
            "expand",
            "--grid",
            '{"train.seed": [1, 2]}',
            "--params",
            str(ROOT / PARAMS_FILE),
            "--github-output",
            str(output),
        ]
    )
    assert code == 0
    written = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert json.loads(written["cells"]) == [
        {"id": "cell-1", "values": {"train.seed": 1}},
        {"id": "cell-2", "values": {"train.seed": 2}},
    ]
    assert written["count"] == "2"
    assert sweep.main(["expand", "--grid", '{"nope": [1]}']) == 2
    assert "unknown param 'nope'" in capsys.readouterr().err


def test_a_cell_runs_dvc_exp_run_with_its_overrides_and_collects_its_metrics(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = []

    def fake_run(cmd, check):
        calls.append(cmd)
        Path("metrics").mkdir()
        Path("reports").mkdir()
        Path("metrics/test.json").write_text('{"roc_auc": 0.8}')
        Path("metrics/train.json").write_text('{"roc_auc": 0.9}')
        Path("reports/gate.json").write_text('{"blessed": false}')
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(sweep.subprocess, "run", fake_run)
    entry = {"id": "cell-2", "values": {"train.seed": 7, "split.stratify": False}}
    assert sweep.run_cell(entry, tmp_path / "out") == 0
    assert calls == [
        [
            "dvc",
            "exp",
            "run",
            "-S",
            "train.seed=7",
            "-S",
            "split.stratify=false",
            "-S",
            "gate.fail_on_reject=false",
        ]
    ]
    result = json.loads((tmp_path / "out" / sweep.CELL_FILE).read_text())
    assert result["status"] == "succeeded" and result["blessed"] is False
    assert result["metrics"] == {"roc_auc": 0.8} and result["values"] == entry["values"]


def test_a_failed_cell_is_recorded_as_failed_with_no_metrics(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        sweep.subprocess, "run", lambda cmd, check: subprocess.CompletedProcess(cmd, 3)
    )
    assert sweep.run_cell({"id": "cell-1", "values": {}}, tmp_path / "out") == 3
    result = json.loads((tmp_path / "out" / sweep.CELL_FILE).read_text())
    assert result["status"] == "failed (exit 3)" and result["metrics"] == {}


def write_cell(folder: Path, cell_id: str, seed: int, metrics: dict, status="succeeded"):
    path = folder / f"sweep-{cell_id}" / sweep.CELL_FILE
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "id": cell_id,
                "values": {"train.seed": seed},
                "status": status,
                "blessed": True if metrics else None,
                "metrics": metrics,
            }
        )
    )


def test_the_report_lists_every_cell_and_highlights_the_best_by_metric_and_direction(tmp_path):
    write_cell(tmp_path, "cell-1", 1, {"roc_auc": 0.81, "log_loss": 0.42})
    write_cell(tmp_path, "cell-2", 2, {"roc_auc": 0.86, "log_loss": 0.45})
    write_cell(tmp_path, "cell-3", 3, {}, status="failed (exit 1)")
    cells = sweep.load_cells(tmp_path)

    table = sweep.report(cells, "roc_auc", "higher")
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert rows[0] == "| cell | `train.seed` | roc_auc | log_loss | gate | status |"
    assert rows[1] == "| cell-1 | 1 | 0.8100 | 0.4200 | blessed | succeeded |"
    assert rows[2] == "| 🏆 **cell-2** | **2** | **0.8600** | **0.4500** | blessed | succeeded |"
    assert rows[3] == "| cell-3 | 3 | — | — | — | failed (exit 1) |"
    assert "best by `roc_auc` (higher is better): **cell-2**" in table
    assert "Failed cells (see their job logs): cell-3." in table
    assert sweep.best_cell(cells, "log_loss", "lower") == "cell-1"


def test_the_report_command_writes_the_table_and_the_summary_and_refuses_unknown_metrics(
    tmp_path, capsys
):
    write_cell(tmp_path / "cells", "cell-1", 1, {"roc_auc": 0.8})
    out, summary = tmp_path / "report.md", tmp_path / "summary.md"
    argv = ["report", str(tmp_path / "cells"), "--out", str(out), "--summary", str(summary)]
    assert sweep.main(argv) == 0
    assert "🏆 **cell-1**" in out.read_text() and out.read_text() in summary.read_text()
    assert sweep.main([*argv, "--metric", "rmse"]) == 2
    assert "no cell has the metric 'rmse'; the cells have ['roc_auc']" in capsys.readouterr().err
    assert sweep.main(["report", str(tmp_path / "empty")]) == 2
