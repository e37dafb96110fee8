"""tabpipe.core.startup: a stage process skips the optional imports no stage uses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tabpipe.core import startup

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(*args: str) -> set[str]:
    """The modules a Python process imported, from its ``-X importtime`` report."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_a_stage_process_loads_the_contract_without_hypothesis() -> None:
    pytest.importorskip("hypothesis", reason="not applicable: Hypothesis is not installed")
    stage = imported_modules("-m", "tabpipe.pipeline.validate", "--help")
    assert "pandera" in stage
    assert "hypothesis.core" not in stage  # the import was refused before it loaded anything


def test_a_process_that_only_imports_tabpipe_keeps_hypothesis() -> None:
    pytest.importorskip("hypothesis", reason="not applicable: Hypothesis is not installed")
    imported = imported_modules("-c", "import tabpipe.pipeline.validate, hypothesis.strategies")
    assert "hypothesis.core" in imported


def test_only_modules_not_yet_imported_are_marked_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    already = sys.modules["pytest"]
    monkeypatch.setattr(startup, "UNUSED", {"pytest": "x", "tabpipe_no_such_module": "y"})
    monkeypatch.delitem(sys.modules, "tabpipe_no_such_module", raising=False)
    assert startup.skip_unused_imports() == ["tabpipe_no_such_module"]
    assert sys.modules["pytest"] is already
    with pytest.raises(ImportError):
        __import__("tabpipe_no_such_module")
    monkeypatch.delitem(sys.modules, "tabpipe_no_such_module")


def test_a_stage_process_is_recognised_only_while_python_m_locates_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "argv", ["-m", "--params", "p.yaml"])
    assert startup.is_stage_process()
    for argv in (["-c"], [str(ROOT / "src/tabpipe/pipeline/validate.py")], ["pytest"], []):
        monkeypatch.setattr(sys, "argv", argv)
        assert not startup.is_stage_process()


def freeze_count_after_a_stage(*args: str) -> int:
    """gc.get_freeze_count() once ``tabpipe.core.stage.run_stage`` returned in a process
    started with ``args`` (an exit handler prints it: the process then shuts down as usual)."""
    script = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count()))\n"
        "sys.argv = ['-m'] if sys.argv[1:] == ['stage'] else ['-c']\n"
        "import tabpipe.pipeline\n"
        "from tabpipe.core.stage import run_stage\n"
        "sys.exit(run_stage('probe', '', lambda params: None, []))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[probe] done in" in done.stdout  # the stage's own output was flushed
    return int(done.stdout.rsplit("frozen", 1)[1])


def test_a_stage_process_freezes_its_objects_when_the_stage_is_done_and_still_exits_normally():
    assert freeze_count_after_a_stage("stage") > 10_000  # every module's objects
    assert freeze_count_after_a_stage("not-a-stage") == 0  # a session that goes on


def test_finishing_outside_a_stage_process_leaves_the_collector_alone() -> None:
    import gc

    before = gc.get_freeze_count()
    assert startup.finish_stage_process() is False
    assert gc.get_freeze_count() == before
