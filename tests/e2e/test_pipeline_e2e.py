"""The README's first command on a fresh copy of the repository, as a new user runs it.

One scratch clone is shared by the tests in this file, which run in order: a cold
``make run``, a no-op ``dvc repro``, a train-param change that re-runs only the stages
downstream of train, and a corrupted raw file that stops at validate and loses nothing.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import onnx
import pandas as pd
import pytest
import yaml

from tabpipe.config import PATHS, load_params
from tabpipe.contract import load_contract
from tabpipe.io import read_table
from tests.factories import enumerated_categorical, ranged_numeric

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def sh(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done


def make(target: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`make TARGET` with the parent checkout's uv, so the clone skips re-downloading uv."""
    uv = ROOT / ".tools" / "bin" / "uv"
    args = ["make", target] + ([f"UV={uv}"] if uv.exists() else [])
    return sh(args, cwd, check)


def stages_run(output: str) -> list[str]:
    return re.findall(r"Running stage '([a-z_]+)'", output)


def bundled_remote_has_the_data() -> bool:
    digest = yaml.safe_load((ROOT / "data.dvc").read_text())["outs"][0]["md5"]
    return (ROOT / ".dvc" / "storage" / "files" / "md5" / digest[:2] / digest[2:]).exists()


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh repository holding exactly the files git would give a new user."""
    target = tmp_path_factory.mktemp("fresh") / "repo"
    listed = sh(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], ROOT
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    if not bundled_remote_has_the_data():
        # An onboarded project may keep its data only in the DVC cache (no --bundle-data):
        # stand in for the team's remote with this checkout's cache, in the clone's local
        # (uncommitted) config, so the clone still starts without the data.
        sh(
            ["dvc", "remote", "add", "--local", "-d", "teamcache", str(ROOT / ".dvc" / "cache")],
            target,
        )
    sh(["git", "init", "-q", "-b", "main"], target)
    sh(["git", "add", "-A"], target)
    sh(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-qm",
            "fresh",
        ],
        target,
    )
    return target


def test_make_run_on_a_fresh_clone_produces_every_artifact(clone):
    assert not (clone / "data").exists(), "a fresh clone has no data until DVC pulls it"
    done = make("run", clone)
    output = done.stdout + done.stderr
    ran = stages_run(output)
    # Cached outputs are absent in a clone, so those stages must run. evaluate's outputs
    # (metrics, plots) are committed to git: it is skipped when training reproduces the
    # committed model.joblib byte for byte, which is what a fixed seed should give.
    assert {"validate", "split", "train", "export"} <= set(ran)
    assert "evaluate" in ran or "Stage 'evaluate' didn't change" in output
    for field in PATHS.__dataclass_fields__:
        assert (clone / getattr(PATHS, field)).exists(), field
    proto = onnx.load(clone / PATHS.onnx_model)
    meta = {p.key: p.value for p in proto.metadata_props}
    head = sh(["git", "rev-parse", "HEAD"], clone).stdout.strip()
    assert meta["git_commit"] == head
    assert meta["data_md5"] == yaml.safe_load((clone / "data.dvc").read_text())["outs"][0]["md5"]
    metrics = json.loads((clone / PATHS.test_metrics).read_text())
    assert metrics and all(math.isfinite(value) for value in metrics.values())
    assert next(iter(metrics)) in done.stdout, "make run ends by showing the metrics"


def test_a_second_repro_is_a_no_op(clone):
    done = sh(["dvc", "repro"], clone)
    assert stages_run(done.stdout) == []
    assert "up to date" in done.stdout


def test_changing_a_train_param_reruns_only_train_and_downstream(clone):
    params_file = clone / "params.yaml"
    settings = yaml.safe_load(params_file.read_text())
    family = settings["train"]["family"]
    name = "C" if family == "linear" else "n_estimators"
    old = settings["train"][family][name]
    new = old * 2 if family == "linear" else max(old // 4, 1)
    settings["train"][family][name] = new
    params_file.write_text(yaml.safe_dump(settings, sort_keys=False))

    done = sh(["dvc", "repro"], clone)
    assert stages_run(done.stdout) == ["train", "evaluate", "export"]
    diff = json.loads(sh(["dvc", "params", "diff", "--json"], clone).stdout)
    change = diff["params.yaml"][f"train.{family}.{name}"]
    assert (change["old"], change["new"]) == (old, new)


def test_corrupted_raw_data_stops_at_validate_and_loses_nothing(clone):
    model_before = (clone / PATHS.onnx_model).read_bytes()
    metrics_before = (clone / PATHS.test_metrics).read_bytes()
    params = load_params(clone / "params.yaml")
    contract = load_contract(clone / params.data.contract)
    numeric, too_big = ranged_numeric(params, contract)
    category, _ = enumerated_categorical(params, contract)
    path = clone / params.data.raw
    frame = read_table(path)
    bad_row = frame.head(1).astype(object)
    bad_row[numeric] = too_big
    bad_row[category] = "castle-in-the-air"
    corrupted = pd.concat([frame.astype(object), bad_row], ignore_index=True)
    if path.suffix == ".csv":
        corrupted.to_csv(path, index=False)
    else:
        corrupted.to_parquet(path, index=False)

    done = make("run", clone, check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert stages_run(output) == ["validate"]
    assert "[validate] FAILED" in output
    assert f"column '{numeric}': check in_range" in output
    assert f"column '{category}': check isin" in output and "'castle-in-the-air'" in output
    assert (clone / PATHS.onnx_model).read_bytes() == model_before
    assert (clone / PATHS.test_metrics).read_bytes() == metrics_before
    report = json.loads((clone / PATHS.validation_report).read_text())
    assert report["ok"] is False and len(report["failures"]) == 2
