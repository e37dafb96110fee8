"""`tabpipe template-update`: a template fix merges into a project without a conflict.

The small repositories here check each decision of the command; the end-to-end test
builds a template with two commits (the second changing only machinery), onboards a
project from the first with the real `tabpipe init`, merges the second into a clone of the
template and into a repository made with "Use this template" (one squashed first commit,
no shared history), and reruns the merged project's pipeline and the fix's own test. Under
`make test-onboarding` it also runs the merged project's `make test-fast`; in `make test`
that nested suite (3-4 of the suite's minutes on a 2-core machine) is left to the
onboarding suite, which runs the same table's whole `make test` right after `init`
(tests/e2e/test_init_binary.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
import yaml
from sklearn.datasets import load_breast_cancer

from tabpipe.onboarding import update
from tests.e2e.onboarding_checks import CURRENT_PACKAGE, onboard_and_verify, own_suite
from tests.support.gitrepos import IDENTITY, git
from tests.support.workspace import fresh_clone, make, sh, share_environment, stages_run


@pytest.fixture(autouse=True)
def identity(monkeypatch):
    for key, value in IDENTITY.items():
        monkeypatch.setenv(key, value)


def repo_with(path: Path, files: dict[str, str], message: str = "start") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if not (path / ".git").exists():
        git(path, "init", "-q", "-b", "main")
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-qm", message)
    return path


def test_a_template_fix_merges_into_a_clone(tmp_path, capsys):
    template = repo_with(
        tmp_path / "template", {"src/tabpipe/a.py": "A = 1\n", "params.yaml": "x: 1\n"}
    )
    project = tmp_path / "project"
    git(tmp_path, "clone", "-q", str(template), str(project))
    repo_with(project, {"params.yaml": "x: 2  # mine\n"}, "my params")
    repo_with(template, {"src/tabpipe/a.py": "A = 2  # fixed\n"}, "a fix")
    assert update.main(["--url", str(template), "--repo", str(project)]) == 0
    assert (project / "src/tabpipe/a.py").read_text() == "A = 2  # fixed\n"
    assert (project / "params.yaml").read_text() == "x: 2  # mine\n"
    assert "merged template/main" in capsys.readouterr().out
    assert update.main(["--repo", str(project)]) == 0, "the remote is remembered"
    assert "already up to date" in capsys.readouterr().out


def test_a_project_made_with_use_this_template_adopts_its_starting_commit(tmp_path):
    template = repo_with(tmp_path / "template", {"src/tabpipe/a.py": "A = 1\n", "README.md": "t\n"})
    project = tmp_path / "project"
    shutil.copytree(template, project, ignore=shutil.ignore_patterns(".git"))
    repo_with(project, {}, "Initial commit")  # GitHub squashes the template into one commit
    repo_with(project, {"README.md": "my project\n"}, "mine")
    repo_with(template, {"src/tabpipe/a.py": "A = 2\n"}, "a fix")
    assert update.main(["--url", str(template), "--repo", str(project)]) == 0
    assert (project / "src/tabpipe/a.py").read_text() == "A = 2\n"
    assert (project / "README.md").read_text() == "my project\n"
    assert "Record the template commit" in git(project, "log", "--format=%s", "-n", "3")


@pytest.mark.parametrize(
    ("setup", "problem"),
    [
        ("dirty", "uncommitted changes"),
        ("no-remote", "pass --url"),
        ("unrelated", "shares no commit"),
        ("conflict", "conflict with yours in:\n  - src/tabpipe/a.py"),
    ],
)
def test_refusals_say_what_to_do_and_commit_nothing(tmp_path, capsys, setup, problem):
    template = repo_with(tmp_path / "template", {"src/tabpipe/a.py": "A = 1\n"})
    project = tmp_path / "project"
    git(tmp_path, "clone", "-q", str(template), str(project))
    url: list[str] = ["--url", str(template)]
    if setup == "dirty":
        (project / "src/tabpipe/a.py").write_text("A = 3\n")
    elif setup == "no-remote":
        url = []
        git(project, "remote", "remove", "origin")
    elif setup == "unrelated":
        shutil.rmtree(project / ".git")
        repo_with(project, {"other.txt": "x\n"}, "unrelated start")
    else:
        repo_with(project, {"src/tabpipe/a.py": "A = 'mine'\n"}, "edited the machinery")
        repo_with(template, {"src/tabpipe/a.py": "A = 2\n"}, "a fix")
    head = git(project, "rev-parse", "HEAD")
    assert update.main([*url, "--repo", str(project)]) == 1
    err = capsys.readouterr().err
    assert problem in err and "Traceback" not in err
    assert git(project, "rev-parse", "HEAD") == head, "nothing is committed"


MACHINERY_FIX = {
    "src/tabpipe/core/paths.py": "\nTEMPLATE_FIX = Path('build/template-fix')\n",
    "tests/core/test_template_fix.py": (
        "from tabpipe.core.paths import TEMPLATE_FIX\n\n\n"
        "def test_the_fix_arrived():\n    assert TEMPLATE_FIX.name == 'template-fix'\n"
    ),
    "Makefile": "\n# a template fix\n",
}


@pytest.mark.e2e
def test_an_onboarded_project_takes_a_machinery_fix_and_stays_green(tmp_path, environment):
    """Template (2 commits) -> init on the first -> merge the second -> make test-fast."""
    template = fresh_clone(tmp_path / "template")
    first = git(template, "rev-parse", "HEAD")
    # Parquet with numeric features only and a 0/1 label: the table least like the bundled
    # one, so that the merged project's pipeline meets what the template's own data never
    # shows.
    # The project must differ from the template it is made from: in the breast-cancer
    # project's own suite (make test-onboarding), the template is already "tumours".
    dataset = "cells" if CURRENT_PACKAGE == "tumours" else "tumours"
    data = tmp_path / f"{dataset}.parquet"
    load_breast_cancer(as_frame=True).frame.to_parquet(data, index=False)

    project = tmp_path / "project"
    git(tmp_path, "clone", "-q", str(template), str(project))
    share_environment(environment, project)
    # Every check tests/e2e/test_init_binary.py makes of a new project (make test-onboarding
    # runs that one, with the project's whole make test).
    onboard_and_verify(
        project, data, dataset, "binary", "--target", "target", "--positive-class", "0"
    )
    git(project, "add", "-A")
    git(project, "commit", "-qm", f"Initialise {dataset}")

    for name, text in MACHINERY_FIX.items():
        path = template / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            handle.write(text)
    git(template, "add", "-A")
    git(template, "commit", "-qm", "A machinery fix")
    changed = git(template, "diff", "--name-only", first, "HEAD").split()
    assert sorted(changed) == sorted(MACHINERY_FIX)

    # "Use this template": the same project, its history squashed into one first commit.
    squashed = tmp_path / "squashed"
    squashed.mkdir()
    git(squashed, "init", "-q", "-b", "main")
    archive = tmp_path / "first.tar"
    git(template, "archive", "--output", str(archive), first)  # the tree of the first commit
    shutil.unpack_archive(archive, squashed)
    git(squashed, "add", "-A")
    git(squashed, "commit", "-qm", "Initial commit")
    diff = git(project, "diff", "--binary", first, "HEAD") + "\n"
    patch = tmp_path / "onboarding.patch"
    patch.write_text(diff)
    git(squashed, "apply", "--index", str(patch))
    git(squashed, "commit", "-qm", f"Initialise {dataset}")

    tabpipe = str(project / ".venv" / "bin" / "tabpipe")
    for repo in (project, squashed):
        merged = sh([tabpipe, "template-update", "--url", str(template)], repo)
        assert "merged template/main" in merged.stdout
        assert git(repo, "status", "--porcelain") == ""
    assert git(project, "rev-parse", "HEAD^{tree}") == git(squashed, "rev-parse", "HEAD^{tree}")
    assert "TEMPLATE_FIX" in (project / "src/tabpipe/core/paths.py").read_text()

    # Still green on the merged machinery: src/tabpipe/core is a dependency of every stage,
    # so make run reruns them all, and they give the same model, metrics and reports.
    model = hashlib.sha256((project / "models" / "model.onnx").read_bytes()).hexdigest()
    run = make("run", project)
    assert stages_run(run.stdout) == list(
        yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    )
    assert git(project, "status", "--porcelain") == "M dvc.lock", "only the code's hashes changed"
    assert hashlib.sha256((project / "models" / "model.onnx").read_bytes()).hexdigest() == model
    fix = sh(
        [str(project / ".venv" / "bin" / "pytest"), "-q", "tests/core/test_template_fix.py"],
        project,
    )
    assert "1 passed" in fix.stdout
    if os.environ.get("TABPIPE_TEST_ONBOARDED") == "all":
        own_suite(project, "test-fast")
