"""tabpipe.core.startup: a stage process skips the optional imports no stage uses."""

from __future__ import annotations

import json
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
    monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "tabpipe.pipeline.validate"])
    monkeypatch.setattr(sys, "argv", ["-m", "--params", "p.yaml"])
    assert startup.is_stage_process()
    for argv in (["-c"], [str(ROOT / "src/tabpipe/pipeline/validate.py")], ["pytest"], []):
        monkeypatch.setattr(sys, "argv", argv)
        assert not startup.is_stage_process()


def test_python_m_of_a_module_outside_the_stages_is_no_stage_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "argv", ["-m"])
    for orig in (["python", "-m", "tabpipe.release.champion"], ["python", "-m", "pytest"]):
        monkeypatch.setattr(sys, "orig_argv", orig)
        assert not startup.is_stage_process()


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["python", "-m", "tabpipe.pipeline.split"], "tabpipe.pipeline.split"),
        (["python", "-X", "importtime", "-m", "tabpipe.pipeline.train"], "tabpipe.pipeline.train"),
        (["python", "-W", "error", "-mtabpipe.pipeline.gate", "--x"], "tabpipe.pipeline.gate"),
        (["python", "-I", "-m", "dvc", "repro"], "dvc"),
        (["python", "-c", "import x", "-m", "y"], None),
        (["python", "script.py", "-m", "y"], None),
        (["python"], None),
    ],
)
def test_the_module_of_python_m_is_read_from_the_interpreters_command_line(argv, module):
    assert startup.module_run_by_m(argv) == module


def collector_during_a_stage(stage_process: bool) -> dict[str, object]:
    """What the garbage collector looked like in a process that runs one stage through
    ``tabpipe.core.stage.run_stage`` (``stage_process``: with the command line of
    ``python -m tabpipe.pipeline.<stage>``): while its modules loaded, in the stage's body,
    and in an exit handler (the process shuts down as usual)."""
    module = "tabpipe.pipeline.probe" if stage_process else "tabpipe.release.probe"
    script = (
        "import atexit, gc, json, sys\n"
        "seen, kept = {}, []\n"
        "def report():\n"
        "    print('SEEN', json.dumps(seen | {'exit_frozen': gc.get_freeze_count()}))\n"
        "atexit.register(report)\n"
        f"sys.argv, sys.orig_argv = ['-m'], ['python', '-m', {module!r}]\n"
        "import tabpipe.pipeline\n"
        "seen['loading_collects'] = gc.isenabled()\n"
        "from tabpipe.core.stage import run_stage\n"
        "def body(params):\n"
        "    seen['body_collects'] = gc.isenabled()\n"
        "    seen['body_frozen'] = gc.get_freeze_count()\n"
        "    kept.extend([] for _ in range(20_000))  # the body's objects, alive at exit\n"
        "sys.exit(run_stage('probe', '', body, []))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[probe] done in" in done.stdout  # the stage's own output was flushed
    return json.loads(done.stdout.rsplit("SEEN", 1)[1])


def test_a_stage_process_collects_nothing_while_loading_and_freezes_at_the_end():
    seen = collector_during_a_stage(stage_process=True)
    assert seen["loading_collects"] is False
    assert seen["body_collects"] is True  # the stage's own work is collected as usual
    assert seen["body_frozen"] > 10_000  # what the imports made is out of the way
    # Frozen again when the stage is done: the body's 20,000 objects too (and the exit
    # handlers still ran, or nothing would be seen).
    assert seen["exit_frozen"] >= seen["body_frozen"] + 19_000


def test_any_other_process_keeps_its_collector_as_python_sets_it():
    seen = collector_during_a_stage(stage_process=False)
    assert seen == {
        "loading_collects": True,
        "body_collects": True,
        "body_frozen": 0,
        "exit_frozen": 0,
    }


def test_finishing_outside_a_stage_process_leaves_the_collector_alone() -> None:
    import gc

    before = gc.get_freeze_count()
    assert startup.finish_stage_process() is False
    assert gc.get_freeze_count() == before
