"""When each pipeline stage ran: the one piece of run metadata DVC does not record.

Every stage appends one JSON line (stage, start, end, seconds, outcome, process) to
``build/timings.jsonl`` as it finishes (see :func:`tabpipe.core.stage.run_stage`); ``tabpipe
record`` reads the lines into the run record and clears the file. The file is not a DVC
output, so timings never make ``dvc repro`` re-run anything; a stage that DVC skipped or
restored from its run-cache simply leaves no line.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tabpipe.core.paths import TIMINGS_FILE

TIMINGS = TIMINGS_FILE


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


def process_started() -> float | None:
    """When this process started (Linux: /proc), so a stage's time includes its imports.

    The process's start is in clock ticks since boot (/proc/self/stat, field 22); its age is
    the time since boot now (/proc/uptime, hundredths of a second) minus that. (The boot
    time in /proc/stat is whole seconds: a start computed from it was up to a second early.)
    """
    try:
        stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        now = time.time()
        return now - (uptime - int(stat[19]) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


def append(stage: str, started: float, ended: float, outcome: str, path: Path = TIMINGS) -> None:
    """Record one stage execution; never raises (timing must not fail a stage).

    ``started`` is when the stage's own work began; the line starts at the process start
    when it is known (and earlier), so the duration counts the imports too, as a user
    waiting for ``dvc repro`` sees it. ``work_seconds`` is the stage's own work.
    """
    begun = process_started()
    begun = begun if begun is not None and started - 600 < begun <= started else started
    line = {
        "stage": stage,
        "started": iso(begun),
        "ended": iso(ended),
        "seconds": round(ended - begun, 3),
        "work_seconds": round(ended - started, 3),
        "outcome": outcome,
        "pid": os.getpid(),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
    except OSError:
        pass


def read(path: Path = TIMINGS) -> list[dict[str, Any]]:
    """Every recorded execution, oldest first; unreadable lines are skipped."""
    if not path.is_file():
        return []
    out = []
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(text)
        except ValueError:
            continue
        if isinstance(entry, dict) and {"stage", "started", "ended"} <= set(entry):
            out.append(entry)
    return out


def clear(path: Path = TIMINGS) -> None:
    path.unlink(missing_ok=True)
