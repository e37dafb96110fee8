"""tabpipe champion: the prod version and its metrics, from git alone, for the gate stage."""

from __future__ import annotations

import json

import pytest

from tabpipe.core.paths import CHAMPION_FILE
from tabpipe.release import champion, registry
from tabpipe.release.registry import RegistryError
from tests.support.gitrepos import git, make_project, shallow_clone

SLICES = {"Job": {"fixed": {"rows": 500, "roc_auc": 0.79}}}


def read(repo) -> dict:
    return json.loads((repo / CHAMPION_FILE).read_text())


def test_with_nothing_in_prod_the_file_says_so(tmp_path):
    project = make_project(tmp_path)
    written, warnings = champion.refresh(project.path)
    assert written["version"] is None and warnings == []
    assert read(project.path)["version"] is None


def test_the_champion_metrics_come_from_the_registered_commit_not_the_workspace(tmp_path):
    project = make_project(tmp_path)
    released = project.commit_metrics(0.80, SLICES)
    registry.register(project.path)
    registry.assign_prod(project.path, "v1.0.0")
    project.commit_metrics(0.70, message="a newer, worse candidate in the workspace")

    champion.refresh(project.path, fetch=False)

    recorded = read(project.path)
    assert recorded["version"] == "v1.0.0" and recorded["commit"] == released
    assert recorded["metrics"]["roc_auc"] == 0.80 and recorded["slices"] == SLICES


def test_an_unchanged_champion_leaves_the_file_untouched_so_dvc_sees_no_change(tmp_path):
    project = make_project(tmp_path)
    project.commit_metrics(0.80)
    registry.register(project.path)
    registry.assign_prod(project.path, "v1.0.0")
    champion.refresh(project.path, fetch=False)
    path = project.path / CHAMPION_FILE
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    champion.refresh(project.path, fetch=False)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_ci_fetches_the_registry_tags_into_a_shallow_clone(tmp_path):
    project = make_project(tmp_path)
    project.commit_metrics(0.80)
    registry.register(project.path)
    registry.assign_prod(project.path, "v1.0.0")
    registry.push_tags(project.path, project.tags())
    project.commit_metrics(0.75, message="the pull request")
    git(project.path, "push", "--quiet", "origin", "main")
    clone = shallow_clone(project, tmp_path / "ci")

    written, warnings = champion.refresh(clone)

    assert warnings == [] and written["version"] == "v1.0.0"
    assert written["metrics"]["roc_auc"] == 0.80


def test_an_unreachable_registry_keeps_the_recorded_champion_instead_of_none(tmp_path):
    project = make_project(tmp_path)
    clone = shallow_clone(project, tmp_path / "ci")
    recorded = {
        "artifact": "model",
        "version": "v1.0.0",
        "commit": "c" * 40,
        "metrics": {"roc_auc": 0.8},
    }
    (clone / CHAMPION_FILE).parent.mkdir(parents=True)
    (clone / CHAMPION_FILE).write_text(json.dumps(recorded))
    git(clone, "remote", "set-url", "origin", str(tmp_path / "gone.git"))

    written, warnings = champion.refresh(clone)

    assert written == recorded and read(clone) == recorded
    assert any("could not fetch the registry tags" in w for w in warnings)
    assert any("keeping the champion recorded" in w for w in warnings)


def test_a_champion_commit_without_metrics_is_an_error_naming_it(tmp_path):
    project = make_project(tmp_path)
    registry.register(project.path)  # the first commit has no metrics/
    registry.assign_prod(project.path, "v1.0.0")
    with pytest.raises(RegistryError, match=r"has no metrics/test\.json in git"):
        champion.refresh(project.path, fetch=False)
    assert not (project.path / CHAMPION_FILE).exists()


def test_the_command_reports_the_champion(tmp_path, monkeypatch, capsys):
    project = make_project(tmp_path)
    project.commit_metrics(0.80)
    registry.register(project.path)
    registry.assign_prod(project.path, "v1.0.0")
    monkeypatch.chdir(project.path)
    assert champion.main(["--offline"]) == 0
    assert "model@v1.0.0 is in prod" in capsys.readouterr().out


def test_an_unreachable_remote_is_a_warning_and_never_a_prompt(tmp_path):
    project = make_project(tmp_path)
    clone = shallow_clone(project, tmp_path / "ci")
    git(clone, "remote", "set-url", "origin", "https://127.0.0.1:9/private/repo.git")
    written, warnings = champion.refresh(
        clone, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    )
    assert written["version"] is None
    assert any("could not fetch the registry tags" in w for w in warnings)
