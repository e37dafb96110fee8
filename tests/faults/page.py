"""docs/faults.md rendered from what the fault cases printed (tests/faults/test_faults.py)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PAGE = Path(__file__).resolve().parents[2] / "docs" / "faults.md"

HEAD = """\
# Faults and bad input: what you see, and that nothing is lost

Each row is a test (`tests/faults/cases.py`, run by `tests/faults/test_faults.py`): a scratch
copy of a project that has been through the whole pipeline is broken in one way, one command
is run as a user would run it, and the test checks the exit status (the HTTP status for the
service), that the message holds the phrase shown, that no traceback is printed, that no file
appears outside the command's own reports, and that the model, metrics, tracked data, DVC
pointer and bundle are byte for byte as they were. The "what you see" column is the line the
command printed, copied by the test; the page is generated from those lines and a test fails
when it is stale (`TABPIPE_WRITE_FAULTS_PAGE=1 pytest tests/faults` rewrites it).

Exit status: 0 done; 1 refused or could not run (nothing changed); 2 schema skew (the
monitoring checks: the batch breaks the contract, a human must look); see
`tabpipe drift --help` for 3 and 4. The issue column is the item of issue 14 the case
reproduces ("—": an input tried beyond the issue's list).

Two faults are tested elsewhere, because they are not one command's output:
`tests/monitoring/test_ingest.py` kills a real `tabpipe ingest` with SIGKILL after each of
its steps and checks that the table is always the old or the new version, never torn, that
`make run` refuses until `tabpipe ingest --finish` or `--undo`, and that both restore a
consistent table and pointer; `tests/serving/test_limits.py` keeps a real server (uvicorn, on
loopback) answering correctly while 40 stalled and 5 oversized uploads are in flight, and
`tests/release/test_bundle.py` and `tests/serving/test_dockerfile.py` serve a bundle copied
with its permissions as another, unprivileged user (the Dockerfile's uid 10001).

| issue | what is wrong | command | what you see | exit | may write |
|---|---|---|---|---:|---|
"""


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _output(text: str) -> str:
    """A message as printed: HTML code, not a Markdown code span, because it is program
    output (``tabpipe predict: ...``), not a command the docs tell you to run."""
    flat = " ".join(str(text).split())
    return "<code>" + html.escape(flat, quote=False).replace("|", "&#124;") + "</code>"


def _command(record: Any) -> str:
    case = record.case
    if case.http:
        return "`" + _cell(" ".join(case.command)) + "`"
    return "`tabpipe " + _cell(" ".join(case.command)) + "`"


def render(records: Sequence[Any]) -> str:
    rows = []
    for record in records:
        case = record.case
        seen = _output(record.message) if record.message else "(empty body)"
        written = ", ".join(f"`{w}`" for w in case.writes) or "nothing"
        rows.append(
            f"| {case.defect or '—'} | {_cell(case.wrong)} | {_command(record)} | {seen} | "
            f"{record.status} | {written} |"
        )
    return HEAD + "\n".join(rows) + "\n"
