"""The git-native model registry (GTO tags): versions, prod, immutability, rollback, push."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tabpipe.release import registry
from tabpipe.release.registry import AlreadyRegistered, RegistryError, next_version
from tests.support.gitrepos import Project, git, make_project, shallow_clone


@pytest.fixture
def project(tmp_path) -> Project:
    return make_project(tmp_path)


def test_versions_bump_from_v1_0_0():
    assert next_version([]) == "v1.0.0"
    assert next_version(["v1.0.0", "v1.2.0", "v1.10.0"]) == "v1.11.0"
    assert next_version(["v1.2.3"], "patch") == "v1.2.4"
    assert next_version(["v1.2.3"], "major") == "v2.0.0"
    with pytest.raises(RegistryError, match=r"not a version like v1\.2\.3"):
        next_version(["1.0"])


def test_register_and_assign_make_gto_tags_and_prod_resolves_to_the_version(project):
    first = project.commit_metrics(0.80)
    version = registry.register(project.path)
    assert (version.version, version.commit, version.tag) == ("v1.0.0", first, "model@v1.0.0")
    assert registry.prod(project.path) is None
    tag = registry.assign_prod(project.path, "v1.0.0")
    assert tag == "model#prod#1"
    assert project.tags() == ["model#prod#1", "model@v1.0.0"]
    current = registry.prod(project.path)
    assert current is not None and (current.version, current.commit) == ("v1.0.0", first)


def test_with_nothing_assigned_prod_is_resolved_from_git_alone_without_loading_gto(project):
    project.commit_metrics(0.80)
    registry.register(project.path)
    probe = (
        "import sys; from pathlib import Path; from tabpipe.release import registry; "
        f"print(registry.prod(Path({str(project.path)!r})), 'gto' in sys.modules)"
    )
    before = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert before.stdout.split() == ["None", "False"], before.stderr
    registry.assign_prod(project.path, "v1.0.0")
    after = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert "version='v1.0.0'" in after.stdout and after.stdout.split()[-1] == "True", after.stderr


def test_an_existing_version_is_immutable(project):
    project.commit_metrics(0.80)
    registry.register(project.path, version="v1.0.0")
    second = project.commit_metrics(0.82)
    with pytest.raises(RegistryError, match=r"model@v1.0.0 already exists at commit .*immutable"):
        registry.register(project.path, version="v1.0.0")
    assert git(project.path, "rev-list", "-n", "1", "model@v1.0.0") != second
    with pytest.raises(AlreadyRegistered, match=r"already registered as model@v1\.0\.0"):
        registry.register(project.path, rev="HEAD~1")
    assert project.tags() == ["model@v1.0.0"]


def test_rollback_assigns_prod_to_the_version_it_had_before(project):
    project.commit_metrics(0.80)
    registry.register(project.path)
    registry.assign_prod(project.path, "v1.0.0")
    project.commit_metrics(0.85)
    registry.register(project.path)
    registry.assign_prod(project.path, "v1.1.0")
    assert registry.prod(project.path).version == "v1.1.0"

    old, new, tag = registry.rollback(project.path)

    assert (old, new, tag) == ("v1.1.0", "v1.0.0", "model#prod#3")
    assert registry.prod(project.path).version == "v1.0.0"
    assert [a.version for a in registry.prod_history(project.path)] == [
        "v1.0.0",
        "v1.1.0",
        "v1.0.0",
    ]
    # roll forward again by name: any registered version can be assigned
    assert registry.rollback(project.path, to="v1.1.0")[1] == "v1.1.0"
    assert registry.prod(project.path).version == "v1.1.0"


def test_rollback_refuses_when_there_is_nothing_to_go_back_to(project):
    with pytest.raises(RegistryError, match="nothing is assigned to prod"):
        registry.rollback(project.path)
    project.commit_metrics(0.80)
    registry.register(project.path)
    registry.assign_prod(project.path, "v1.0.0")
    with pytest.raises(RegistryError, match=r"never held a version other than v1\.0\.0"):
        registry.rollback(project.path)
    with pytest.raises(RegistryError, match=r"model@v9\.0\.0 is not registered"):
        registry.rollback(project.path, to="v9.0.0")
    with pytest.raises(RegistryError, match="already in prod"):
        registry.assign_prod(project.path, "v1.0.0")
    assert project.tags() == ["model#prod#1", "model@v1.0.0"]


def test_the_cli_rolls_back_and_pushes_the_tag(project, capsys):
    project.commit_metrics(0.80)
    assert registry.main(["--repo", str(project.path), "register", "--push"]) == 0
    assert registry.main(["--repo", str(project.path), "promote", "v1.0.0", "--push"]) == 0
    project.commit_metrics(0.85)
    assert registry.main(["--repo", str(project.path), "register", "--push"]) == 0
    assert registry.main(["--repo", str(project.path), "promote", "v1.1.0", "--push"]) == 0
    capsys.readouterr()

    assert registry.main(["--repo", str(project.path), "rollback", "--push"]) == 0

    assert "rolled prod back: v1.1.0 -> v1.0.0 (model#prod#3)" in capsys.readouterr().out
    assert "model#prod#3" in project.origin_tags()
    assert registry.main(["--repo", str(project.path), "show"]) == 0
    shown = capsys.readouterr().out
    assert "prod: v1.0.0" in shown and "model@v1.0.0" in shown and "model@v1.1.0" in shown


def test_a_version_already_on_the_remote_is_refused_and_nothing_is_left_behind(project, tmp_path):
    project.commit_metrics(0.80)
    registry.register(project.path)
    registry.push_tags(project.path, ["model@v1.0.0"])
    # another clone, unaware of the remote tag, registers the same version at another commit
    other = shallow_clone(project, tmp_path / "other")
    (other / "x").write_text("x")
    git(other, "add", "x")
    git(other, "commit", "--quiet", "-m", "other")
    assert registry.main(["--repo", str(other), "register", "--version", "v1.0.0", "--push"]) == 1
    assert git(other, "tag", "--list") == ""
    assert project.origin_tags() == ["model@v1.0.0"]
    assert git(project.origin, "rev-list", "-n", "1", "model@v1.0.0") == git(
        project.path, "rev-list", "-n", "1", "model@v1.0.0"
    )


def test_a_shallow_clone_without_tags_finds_prod_after_fetching_them(project, tmp_path):
    first = project.commit_metrics(0.80)
    registry.register(project.path)
    registry.assign_prod(project.path, "v1.0.0")
    project.commit_metrics(0.81, message="later work")
    git(project.path, "push", "--quiet", "origin", "main")
    registry.push_tags(project.path, project.tags())
    clone = shallow_clone(project, tmp_path / "ci")
    assert registry.prod(clone) is None

    registry.fetch_tags(clone)

    current = registry.prod(clone)
    assert current is not None and (current.version, current.commit) == ("v1.0.0", first)
    assert registry.read_at(clone, first, "metrics/test.json") is not None
