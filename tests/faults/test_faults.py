"""The fault-and-bad-input table: each case run as a user would, nothing lost, page current.

Each case of :mod:`tests.faults.cases` breaks a scratch copy of a project that has been
through the pipeline, runs one command, and must get the documented exit status and a
message with the documented phrase, with no traceback, no stray file, and the model,
metrics, tracked data and bundle byte for byte as they were. What each case printed is
rendered into docs/faults.md; the last test fails when the page is not what the cases print
now. To rewrite the page: ``TABPIPE_WRITE_FAULTS_PAGE=1 pytest tests/faults``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tabpipe import cli
from tabpipe.pipeline import profile
from tabpipe.serving import app as service
from tabpipe.serving.limits import ServiceLimits
from tests.faults.cases import CASES, Case, project
from tests.faults.page import PAGE, render
from tests.support.asgi import drive
from tests.support.scratch import inside

PROTECTED = ("models", "metrics", "data", "data.dvc", "build/bundle", "reports/champion.json")
WRITE_ENV = "TABPIPE_WRITE_FAULTS_PAGE"
TEMPLATE_TABLE = "credit.csv"  # the page shows what the cases print on the template's data
SEEN: dict[str, Record] = {}


@dataclass(frozen=True)
class Record:
    case: Case
    status: int
    message: str


@pytest.fixture(scope="module")
def ran(pipeline_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The served project with its drift reference too (the profile stage)."""
    base = tmp_path_factory.mktemp("faults") / "project"
    shutil.copytree(pipeline_project, base, symlinks=True)
    with inside(base):
        assert profile.main([]) == 0
    return base


def digests(root: Path) -> dict[str, str]:
    """Every file under the protected paths, by md5 (a symlink by its target)."""
    found = {}
    for name in PROTECTED:
        top = root / name
        paths = [top] if not top.is_dir() else sorted(top.rglob("*"))
        for path in paths:
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = "-> " + os.readlink(path)
            elif path.is_file():
                found[key] = hashlib.md5(path.read_bytes()).hexdigest()
            elif path.is_dir():
                found[key] = "folder"
    return found


def files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if (p.is_file() or p.is_symlink()) and ".git" not in p.parts and ".dvc" not in p.parts
    }


def _line(text: str, says: str, root: Path) -> str:
    """The line of the output that holds the phrase, as the user reads it."""
    lines = [line.strip() for line in text.replace(str(root), ".").splitlines() if line.strip()]
    chosen = next((line for line in lines if says in line), lines[-1] if lines else "")
    return chosen if len(chosen) <= 240 else chosen[:237] + "..."


def run_http(case: Case, root: Path) -> tuple[int, str]:
    bundle = root / "build" / "bundle"
    if case.id == "service-stalled":
        app = service.create_app(bundle, limits=ServiceLimits(body_timeout_s=1.0))
        ((status, body),) = drive(app, 5.0, 1)
        return status, json.loads(body)["message"]
    if case.id == "service-full":
        app = service.create_app(bundle, limits=ServiceLimits(body_timeout_s=3.0, max_concurrent=2))
        answers = drive(app, 5.0, 3)
        status, body = next(a for a in answers if a[0] == 503)
        return status, json.loads(body)["message"]
    client = TestClient(service.create_app(bundle))
    if case.id == "service-head":
        answer = client.head("/health")
        return answer.status_code, f"{answer.status_code}, no body ({len(answer.content)} bytes)"
    row = json.loads((bundle / "model.json").read_text())["inputs"]
    sample = {
        f["name"]: (
            f["categories"][0]
            if f["kind"] == "categorical"
            else False
            if f["kind"] == "boolean"
            else f.get("minimum") or 0.0
        )
        for f in row
    }
    if case.id == "service-huge-body":
        # Enough rows to pass 4 MiB whatever the row's width (a narrow table has short rows).
        copies = 4_194_304 // len(json.dumps(sample)) + 1_000
        body = json.dumps({"rows": [sample] * copies}).encode()
        assert len(body) > 4_194_304
        answer = client.post(
            "/predict/batch", content=body, headers={"content-type": "application/json"}
        )
    else:
        first = next(iter(sample))
        text = '{"' + first + '": "x", ' + json.dumps(sample)[1:]
        answer = client.post("/predict", content=text, headers={"content-type": "application/json"})
    return answer.status_code, answer.json()["message"]


def run_case(case: Case, base: Path, work: Path, capsys, monkeypatch) -> Record:
    root = work / case.id
    shutil.copytree(base, root, symlinks=True)
    monkeypatch.chdir(root)
    original = digests(root)
    case.prepare(root)
    before, listed = digests(root), files(root)
    for key in list(before):
        if key.startswith(case.restores) and case.restores:
            before[key] = original[key]  # must be back as it was before the fault
    capsys.readouterr()
    if case.http:
        status, message = run_http(case, root)
        output = message
    else:
        if case.patch is not None:
            case.patch(monkeypatch)
        try:
            status = cli.main(case.command)
        except SystemExit as exc:  # argparse refusals
            status = int(exc.code or 0)
        captured = capsys.readouterr()
        output = captured.out + captured.err
        message = _line(output, case.says, root)
    monkeypatch.undo()
    assert "Traceback" not in output, output
    assert status == case.exit, f"{case.id}: exit {status}, expected {case.exit}\n{output}"
    assert case.says in output, f"{case.id}: {case.says!r} not in\n{output}"
    assert digests(root) == before, f"{case.id}: a protected file changed"
    new = files(root) - listed - set(case.writes)
    assert not new, f"{case.id}: stray files {sorted(new)}"
    return Record(case, status, message)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_fault_gives_its_message_and_exit_status_and_loses_nothing(
    case, ran, tmp_path, capsys, monkeypatch
):
    SEEN[case.id] = run_case(case, ran, tmp_path, capsys, monkeypatch)


def test_the_fault_page_is_what_the_cases_print(ran, tmp_path, capsys, monkeypatch):
    """Cases not run above (deselected) run here, so the page is always checked whole."""
    records = [SEEN.get(c.id) or run_case(c, ran, tmp_path, capsys, monkeypatch) for c in CASES]
    page = render(records)
    if project(ran).data.raw.name != TEMPLATE_TABLE:
        return  # the page documents the template's own data; an onboarded project's differ
    if os.environ.get(WRITE_ENV):
        PAGE.write_text(page, encoding="utf-8")
    assert PAGE.read_text(encoding="utf-8") == page, (
        f"{PAGE} is stale: rewrite it with `{WRITE_ENV}=1 pytest tests/faults`"
    )


def test_every_defect_of_the_issue_has_a_case():
    assert {c.defect for c in CASES} >= {"1", "3", "4", "5", "6", "7", "8"}
    assert len({c.id for c in CASES}) == len(CASES)
