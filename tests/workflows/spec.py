"""Reading .github/ for the static checks: workflows, their jobs, steps and raw lines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github"
WORKFLOW_DIR = GITHUB / "workflows"
STANDIN_DIR = ROOT / "tests" / "rehearsal" / "actions"
CI = "ci.yml"
TRAINING = "continuous-training.yml"


def workflow_files() -> list[Path]:
    return sorted(WORKFLOW_DIR.glob("*.y*ml"))


def load(path: Path) -> dict[str, Any]:
    spec = yaml.safe_load(path.read_text())
    if True in spec:  # PyYAML reads the key `on` as the boolean True
        spec["on"] = spec.pop(True)
    return spec


def workflow(name: str) -> dict[str, Any]:
    return load(WORKFLOW_DIR / name)


@dataclass(frozen=True)
class Step:
    file: str
    job: str
    index: int
    spec: dict[str, Any]

    @property
    def where(self) -> str:
        label = self.spec.get("name") or self.spec.get("uses") or "run"
        return f"{self.file} job {self.job!r} step {self.index} ({label})"

    @property
    def uses(self) -> str:
        return str(self.spec.get("uses", ""))

    @property
    def run(self) -> str:
        return str(self.spec.get("run", ""))


def jobs(name: str | None = None) -> Iterator[tuple[str, str, dict[str, Any]]]:
    files = [WORKFLOW_DIR / name] if name else workflow_files()
    for path in files:
        for job_id, job in load(path)["jobs"].items():
            yield path.name, job_id, job


def steps(name: str | None = None) -> Iterator[Step]:
    for file, job_id, job in jobs(name):
        for index, step in enumerate(job.get("steps", [])):
            yield Step(file, job_id, index, step)


def step_named(workflow_name: str, job: str, fragment: str) -> Step:
    found = [
        s
        for s in steps(workflow_name)
        if s.job == job and fragment in (s.spec.get("name") or s.run or s.uses)
    ]
    assert len(found) == 1, (
        f"expected one step matching {fragment!r} in {workflow_name}/{job}, found {len(found)}"
    )
    return found[0]


USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")


def uses_lines(paths: list[Path] | None = None) -> list[tuple[str, int, str, str]]:
    """(file, line number, action reference, the rest of the line) of every `uses:` line."""
    out = []
    for path in paths if paths is not None else workflow_files():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = USES_LINE.match(line)
            if match:
                out.append((path.name, number, match["ref"].strip("'\""), match["rest"]))
    return out


def standin_actions() -> list[Path]:
    return sorted(STANDIN_DIR.rglob("action.yml"))
