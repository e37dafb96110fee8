"""A stage quiet for a while prints that it is still working (tabpipe.core.heartbeat)."""

from __future__ import annotations

import io
import threading
import time

from tabpipe.core import heartbeat
from tabpipe.core.heartbeat import beating, due


def test_a_line_is_due_after_the_quiet_period_since_the_stages_line_and_the_last_beat():
    assert not due(now=14.9, said_at=0.0, beat_at=0.0, quiet=15)
    assert due(now=15.0, said_at=0.0, beat_at=0.0, quiet=15)
    assert not due(now=20.0, said_at=10.0, beat_at=0.0, quiet=15)  # the stage spoke at 10
    assert not due(now=20.0, said_at=0.0, beat_at=15.0, quiet=15)  # a beat at 15
    assert due(now=30.0, said_at=0.0, beat_at=15.0, quiet=15)


def wait_for(text: str, out: io.StringIO, deadline: float = 30.0) -> str:
    """The output once it holds ``text`` (a generous deadline: no speed is asserted)."""
    end = time.monotonic() + deadline
    while text not in out.getvalue() and time.monotonic() < end:
        time.sleep(0.01)
    return out.getvalue()


def test_a_quiet_stage_says_it_is_still_working_and_what_it_last_said():
    out = io.StringIO()
    with beating("split", quiet=0.05, out=out):
        heartbeat.said("splitting 10000000 rows")
        written = wait_for("still working", out)
    line = written.splitlines()[0]
    assert line.startswith("[split] still working: ") and "s in, " in line, line
    assert line.endswith('since "splitting 10000000 rows"'), line
    assert heartbeat._current is None  # the block ended: nothing is told any more
    assert not [t for t in threading.enumerate() if t.name == "split heartbeat"]


def test_a_stage_that_keeps_talking_gets_no_heartbeat_lines():
    out = io.StringIO()
    with beating("train", quiet=60, out=out):
        for k in range(20):
            heartbeat.said(f"{k}/20 boosting iterations")
            time.sleep(0.01)
    assert out.getvalue() == ""


def test_every_stage_body_runs_with_a_heartbeat_that_its_log_lines_reach(
    monkeypatch, tmp_path, root
):
    from tabpipe.core import stage

    seen: list[object] = []

    def body(params) -> None:
        seen.append(heartbeat._current)
        stage.log("gate", "checking")
        seen.append(heartbeat._current.last_line)  # type: ignore[union-attr]

    params = tmp_path / "params.yaml"
    params.write_text((root / "params.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert stage.run_stage("gate", "", body, ["--params", str(params)]) == 0
    assert seen[0] is not None and seen[1] == "checking"
    assert heartbeat._current is None
