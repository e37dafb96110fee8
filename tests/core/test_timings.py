"""Stage timings: every stage run leaves one line, and a broken file never fails a stage."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from tabpipe.core import timings
from tabpipe.core.paths import PATHS
from tabpipe.pipeline import validate


def test_lines_round_trip_and_bad_lines_are_skipped(tmp_path):
    path = tmp_path / "t.jsonl"
    timings.append("train", 1_700_000_000.0, 1_700_000_012.5, "ok", path)
    with path.open("a") as handle:
        handle.write("not json\n")
    timings.append("export", 1_700_000_013.0, 1_700_000_014.0, "failed", path)
    (first, second) = timings.read(path)
    assert first["stage"] == "train" and first["seconds"] == 12.5 and first["outcome"] == "ok"
    assert datetime.fromisoformat(first["started"]).tzinfo is not None
    assert second["outcome"] == "failed"
    timings.clear(path)
    assert timings.read(path) == []


def test_an_unwritable_timings_file_does_not_raise(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    timings.append("train", 0.0, 1.0, "ok", blocker / "sub" / "t.jsonl")  # parent is a file


@pytest.mark.usefixtures("project")
def test_a_stage_run_appends_its_timing_even_when_it_fails(params):
    assert validate.main([]) == 0
    params.data.raw.write_text("not,the,data\n1,2,3\n")
    assert validate.main([]) == 1
    ok, failed = timings.read()
    assert ok["stage"] == failed["stage"] == "validate"
    assert (ok["outcome"], failed["outcome"]) == ("ok", "failed")
    assert ok["ended"] >= ok["started"]
    assert json.loads(PATHS.validation_report.read_text())["ok"] is False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="not applicable: no /proc")
def test_a_process_start_lies_between_its_parents_clock_readings():
    """Hundredths of a second, not the whole seconds of /proc/stat's boot time."""
    probe = "from tabpipe.core import timings; print(timings.process_started())"
    before = time.time()
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    after = time.time()
    started = float(done.stdout)
    assert before - 0.03 <= started <= after  # /proc's clock ticks and uptime: 10 ms
