"""The experiment sweep under act: a 2 x 1 grid, two real `dvc exp run` cells, one table.

Every run: step is real (make setup, tabpipe.ci.workflow pull, tabpipe.release.champion,
tabpipe.ci.sweep run with dvc exp run, tabpipe.ci.sweep report); the artifacts travel between
the jobs through the
stand-ins, as actions/upload-artifact and download-artifact would carry them.
"""

from __future__ import annotations

import json

import pytest

from tests.rehearsal.harness import Origin, Rehearsal, repository_payload, table_rows

pytestmark = pytest.mark.rehearsal

SWEEP = "experiment-sweep.yml"
KEY = "train.hist_gradient_boosting.max_iter"
GRID = {KEY: [20, 60]}


def test_a_small_grid_runs_one_cell_per_job_and_gathers_one_comparison_table(
    origin: Origin, rehearsal: Rehearsal, tmp_path
):
    checkout = origin.checkout("refs/heads/main", tmp_path / "checkout", branch="main")
    inputs = {"grid": json.dumps(GRID), "metric": "log_loss", "direction": "lower"}

    run = rehearsal.run(
        checkout,
        "workflow_dispatch",
        {"inputs": inputs, "repository": repository_payload()},
        workflow=SWEEP,
        # No git identity from this machine: dvc exp run commits each experiment, so the
        # workflow's own GIT_AUTHOR_*/GIT_COMMITTER_* must be what makes it work, as on GitHub.
        env={"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"},
    )

    assert run.returncode == 0, run.log[-6000:]
    assert run.job_succeeded("Check the grid and list its cells")
    assert run.job_succeeded("Compare the cells")
    cells = {}
    for cell_id, trees in [("cell-1", 20), ("cell-2", 60)]:
        result = json.loads((run.artifact(f"sweep-{cell_id}") / "cell.json").read_text())
        assert result["status"] == "succeeded" and result["values"] == {KEY: trees}
        assert f"-S {KEY}={trees} -S gate.fail_on_reject=false" in result["command"]
        assert 0 < result["metrics"]["log_loss"] < 1
        cells[cell_id] = result["metrics"]
    assert cells["cell-1"] != cells["cell-2"]  # the override reached the training stage

    report = (run.artifact("sweep-report") / "report.md").read_text()
    rows = {row[0].replace("🏆 ", "").strip("*"): row for row in table_rows(report)}
    assert set(rows) == {"cell-1", "cell-2"}
    header = report.split("\n| cell |")[1].splitlines()[0]
    columns = ["cell", *(c.strip() for c in header.strip(" |").split("|"))]
    for cell_id, metrics in cells.items():
        row = dict(zip(columns, rows[cell_id], strict=True))
        assert row["log_loss"].strip("*") == f"{metrics['log_loss']:.4f}"
        assert row["roc_auc"].strip("*") == f"{metrics['roc_auc']:.4f}"
    best = min(cells, key=lambda c: cells[c]["log_loss"])
    assert rows[best][0] == f"🏆 **{best}**"
    assert f"best by `log_loss` (lower is better): **{best}**" in report
    assert "### Experiment sweep" in run.summary()
