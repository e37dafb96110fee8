"""The run record: code, data, params, stage timings, executor, the model it replaced, metrics.

The pure assembly is tested with made-up inputs; the command runs in a scratch git
repository with a real dvc.lock history, as ``make run`` leaves it.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from tabpipe.core import timings
from tabpipe.core.dvcfiles import lock_stages
from tabpipe.release import run_record
from tabpipe.release.run_record import build, markdown, stage_runs, unchanged

MODEL = "models/model.onnx"


def lock(model_md5: str, data_md5: str = "d1") -> dict:
    return {
        "schema": "2.0",
        "stages": {
            "train": {
                "cmd": "python -m tabpipe.pipeline.train",
                "deps": [{"path": "build/train.parquet", "md5": data_md5}],
                "outs": [{"path": "models/model.joblib", "md5": "j" + model_md5}],
            },
            "export": {
                "cmd": "python -m tabpipe.pipeline.export",
                "deps": [{"path": "models/model.joblib", "md5": "j" + model_md5}],
                "outs": [{"path": MODEL, "md5": model_md5}],
            },
        },
    }


def execution(stage: str, start: str, end: str, outcome: str = "ok") -> dict:
    return {"stage": stage, "started": start, "ended": end, "seconds": 1.0, "outcome": outcome}


def test_stages_that_ran_were_unchanged_or_skipped_are_told_apart():
    stages = lock_stages(yaml.safe_dump(lock("m2")))
    previous = {
        "stages": {"train": {**stages["train"], "started": "t0", "ended": "t1", "seconds": 3}}
    }
    runs = stage_runs(stages, [execution("export", "t2", "t3")], previous)
    assert runs["export"]["status"] == "ran" and runs["export"]["started"] == "t2"
    assert runs["train"]["status"] == "unchanged" and runs["train"]["started"] == "t0"
    fresh = stage_runs(stages, [], None)
    assert {r["status"] for r in fresh.values()} == {"skipped"}
    failed = stage_runs(stages, [execution("train", "t4", "t5", "failed")], None)
    assert failed["train"]["status"] == "failed"


def test_nothing_ran_and_the_same_lock_means_no_new_record():
    stages = lock_stages(yaml.safe_dump(lock("m1")))
    record = {"stages": stage_runs(stages, [], None)}
    assert unchanged(record, stages, [])
    assert not unchanged(record, stages, [execution("train", "a", "b")])
    assert not unchanged(record, lock_stages(yaml.safe_dump(lock("m2"))), [])
    assert not unchanged(None, stages, [])


def test_the_record_answers_which_code_data_params_when_where_and_what_it_replaced():
    stages = lock_stages(yaml.safe_dump(lock("m2")))
    runner = {
        "kind": "github-actions",
        "workflow": "Continuous training",
        "run_id": "7",
        "run_url": "https://github.com/o/r/actions/runs/7",
        "event": "push",
        "actor": "me",
        "runner_name": "GitHub Actions 3",
        "runner_os": "Linux",
        "runner_arch": "X64",
        "python": "3.11.9",
    }
    record = build(
        stages=stages,
        executions=[
            execution("train", "2025-01-01T10:00:00+00:00", "2025-01-01T10:00:30+00:00"),
            execution("export", "2025-01-01T10:00:31+00:00", "2025-01-01T10:00:40+00:00"),
        ],
        previous=None,
        params={"train": {"family": "linear"}},
        data={"data.dvc": {"path": "data", "md5": "abc.dir"}},
        git={"commit": "c" * 40, "branch": "main", "uncommitted_inputs": ["params.yaml"]},
        runner=runner,
        replaced={"path": MODEL, "md5": "m1", "commit": "b" * 40, "committed_at": "x"},
        champion_entry={"artifact": "model", "version": "v1.0.0", "commit": "b" * 40},
        metrics={"train": {"accuracy": 0.9}, "test": {"accuracy": 0.8}},
        now=datetime(2025, 1, 1, 10, 1, tzinfo=UTC),
    )
    assert record["run"]["seconds"] == 40.0 and record["run"]["stages_run"] == 2
    assert record["model"]["md5"] == "m2" and record["replaced"]["md5"] == "m1"
    text = markdown(record)
    for expected in (
        "`cccccccccccc` on `main`",
        "`params.yaml`",
        "`data.dvc` → `data`",
        "md5 `m1` from commit `bbbbbbbbbbbb`",
        "`model@v1.0.0`",
        "https://github.com/o/r/actions/runs/7",
        "runner `GitHub Actions 3`",
        "| `train` | ran | 10:00:00 | 1.0s |",
        "accuracy 0.8000",
    ):
        assert expected in text, expected
    json.dumps(record, allow_nan=False)  # the record is plain JSON


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def history(tmp_path: Path, monkeypatch) -> Path:
    """A repository whose dvc.lock recorded model m1, then m2."""
    monkeypatch.chdir(tmp_path)
    git(tmp_path, "init", "-q", "-b", "main")
    for md5 in ("m1", "m2"):
        Path("dvc.lock").write_text(yaml.safe_dump(lock(md5)))
        git(tmp_path, "add", "dvc.lock")
        git(tmp_path, "commit", "-qm", f"model {md5}")
    return tmp_path


def test_the_replaced_model_is_the_last_different_one_in_git_history(history):
    first = git(history, "rev-parse", "HEAD~1")
    assert run_record.previous_model("m2")["commit"] == first  # m2 is committed: m1 before it
    Path("dvc.lock").write_text(yaml.safe_dump(lock("m3")))  # a new, uncommitted model
    replaced = run_record.previous_model("m3")
    assert replaced["md5"] == "m2" and replaced["commit"] == git(history, "rev-parse", "HEAD")
    assert run_record.previous_model("m9")["md5"] == "m2"  # the newest one that differs


def test_the_command_writes_once_then_leaves_an_unchanged_record_alone(history, capsys):
    Path("dvc.lock").write_text(yaml.safe_dump(lock("m3")))
    Path("params.yaml").write_text("train: {family: linear}\n")
    Path("metrics").mkdir()
    Path("metrics/test.json").write_text('{"accuracy": 0.8}')
    now = datetime.now(UTC).timestamp()
    timings.append("export", now - 5, now, "ok")

    assert run_record.main([]) == 0
    record = json.loads(Path("reports/run.json").read_text())
    assert record["stages"]["export"]["status"] == "ran"
    assert record["stages"]["train"]["status"] == "skipped"
    assert record["replaced"]["md5"] == "m2" and record["metrics"]["test"] == {"accuracy": 0.8}
    assert record["code"]["uncommitted_inputs"] == [] and record["executor"]["kind"] == "local"
    assert not timings.TIMINGS.exists(), "the timings were consumed"

    written = Path("reports/run.json").read_bytes()
    assert run_record.main([]) == 0
    assert Path("reports/run.json").read_bytes() == written
    assert "unchanged" in capsys.readouterr().out
    assert run_record.main(["--show"]) == 0
    assert "### Run record" in capsys.readouterr().out
