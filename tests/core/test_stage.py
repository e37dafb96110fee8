"""What every stage's command line shares (tabpipe.core.stage.run_stage): a load step for
the libraries a stage module loads lazily, and the clock that starts after it."""

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from tabpipe.core.timings import iso

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, sys, time
sys.argv, sys.orig_argv = ['-m'], ['python', '-m', 'tabpipe.pipeline.probe']
import tabpipe.pipeline
from tabpipe.core.stage import run_stage
seen = dict()
def load(params):
    seen['load_has_params'] = params.data.target
    seen['load_collects'] = gc.isenabled()
    seen['load_ended'] = time.time()
    if {fail!r}:
        from tabpipe.core.io import InputError
        raise InputError('the probe cannot load its library')
def body(params):
    seen['body_collects'] = gc.isenabled()
code = run_stage('probe', '', body, ['--params', {params!r}], load=load)
print('SEEN', json.dumps(seen))
sys.exit(code)
"""


def run_probe(tmp_path: Path, *, fail: bool = False) -> tuple[subprocess.CompletedProcess, dict]:
    script = PROBE.format(fail=fail, params=str(ROOT / "params.yaml"))
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    seen = json.loads(done.stdout.rsplit("SEEN", 1)[1]) if "SEEN" in done.stdout else {}
    return done, seen


def recorded(tmp_path: Path) -> dict:
    (line,) = (tmp_path / "build" / "timings.jsonl").read_text().splitlines()
    return json.loads(line)


def test_a_stage_loads_its_libraries_with_its_params_before_its_clock_starts(tmp_path):
    done, seen = run_probe(tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert seen["load_has_params"]  # the load step gets the stage's params
    assert seen["load_collects"] is False  # loaded like the module's own imports
    assert seen["body_collects"] is True
    line = recorded(tmp_path)
    ended = datetime.fromisoformat(line["ended"]).timestamp()
    work_started = ended - line["work_seconds"]
    # The recorded work starts after the load ended (to the record's millisecond).
    assert work_started >= seen["load_ended"] - 0.002, (iso(seen["load_ended"]), line)
    assert line["seconds"] >= line["work_seconds"]  # the process's time still counts it


def test_a_load_step_that_fails_is_a_one_line_error_recorded_as_such(tmp_path):
    done, seen = run_probe(tmp_path, fail=True)
    assert done.returncode == 1
    assert "[probe] ERROR: the probe cannot load its library" in done.stderr
    assert "Traceback" not in done.stderr
    assert "body_collects" not in seen  # the body never ran
    assert recorded(tmp_path)["outcome"] == "error"
