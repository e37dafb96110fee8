"""zizmor and shellcheck pass on .github/ and on every run: script, and would catch a slip.

Each linter is also run on a deliberately bad example, so a linter that silently checks
nothing would fail here instead of passing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.workflows.spec import GITHUB, ROOT, standin_actions, steps

VENV_BIN = ROOT / ".venv" / "bin"


def tool(name: str) -> str:
    found = shutil.which(name, path=str(VENV_BIN)) or shutil.which(name)
    assert found, f"{name} is not installed: run `make setup` (it is a locked dev dependency)"
    return found


def zizmor(target: Path, persona: str = "regular") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", f"--persona={persona}", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_zizmor_finds_nothing_in_github_at_the_default_and_pedantic_personas(persona):
    """The auditor persona's findings are pinned and explained in test_workflow_rules.py."""
    done = zizmor(GITHUB, persona)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


def test_zizmor_would_catch_a_template_injection(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "name: bad\non: pull_request\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    done = zizmor(tmp_path / ".github")
    assert done.returncode != 0 and "template-injection" in done.stdout


def scripts() -> list[tuple[str, str]]:
    """(where, script) for every run: in the workflows and in the rehearsal stand-ins."""
    found = [(s.where, s.run) for s in steps() if s.run]
    for action in standin_actions():
        for index, step in enumerate(yaml.safe_load(action.read_text())["runs"]["steps"]):
            if "run" in step:
                found.append((f"{action.relative_to(ROOT)} step {index}", step["run"]))
    return found


def shellcheck(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "script.sh"
    path.write_text(script)
    return subprocess.run(
        [tool("shellcheck"), "--shell=bash", "--severity=style", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_shellcheck_passes_every_run_script(tmp_path):
    found = scripts()
    assert len(found) > 10
    problems = []
    for where, script in found:
        done = shellcheck(script, tmp_path)
        if done.returncode != 0:
            problems.append(f"{where}:\n{done.stdout}")
    assert not problems, "\n".join(problems)


def test_shellcheck_would_catch_an_unquoted_variable(tmp_path):
    done = shellcheck("rm -rf $TARGET/build\n", tmp_path)
    assert done.returncode != 0 and "SC2086" in done.stdout
