"""The parts of `tabpipe init` that touch no dataset: names, memory, renaming, params text."""

import json
import shlex
from pathlib import Path

import pytest
import yaml

from tabpipe.core.config import Params
from tabpipe.onboarding.init import (
    InitError,
    ParamsDumper,
    check_fits_in_memory,
    example_request,
    package_name,
    relock,
    rename_package,
    replace_serving_example,
)
from tabpipe.onboarding.plan import plan
from tests.support.factories import kinds_table


@pytest.mark.parametrize(
    ("name", "package"),
    [("Sea Birds 2", "sea_birds_2"), ("credit-risk", "credit_risk"), ("Ça va", "a_va")],
)
def test_project_names_become_package_names(name, package):
    assert package_name(name) == package


@pytest.mark.parametrize("name", ["123abc", "import", "tests", "json", "pandas", "---"])
def test_names_that_would_clash_or_break_are_refused(name):
    with pytest.raises(InitError, match=repr(name)):
        package_name(name)


def test_a_file_too_large_for_memory_is_refused_before_reading(tmp_path):
    data = tmp_path / "big.csv"
    data.write_bytes(b"x" * 10_000)
    with pytest.raises(InitError, match=r"needs about .* GiB of memory"):
        check_fits_in_memory(data, available=1_000)
    check_fits_in_memory(data, available=10**9)


def test_renaming_moves_only_the_project_package_and_its_metadata(tmp_path):
    (tmp_path / "src" / "oldpkg").mkdir(parents=True)
    (tmp_path / "src" / "oldpkg" / "models.py").write_text("FAMILIES = {}  # oldpkg\n")
    (tmp_path / "src" / "tabpipe").mkdir()
    (tmp_path / "src" / "tabpipe" / "stage.py").write_text("package = 'oldpkg'\n")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "tabpipe"\n# families: src/oldpkg/models.py; src/oldpkg_x stays\n'
        '[tool.hatch.build.targets.wheel]\npackages = ["src/tabpipe", "src/oldpkg"]\n'
    )
    (tmp_path / "dvc.yaml").write_text("deps: [src/oldpkg]\n")
    changed = rename_package(tmp_path, "oldpkg", "newpkg", "sea-birds")
    assert sorted(map(str, changed)) == ["pyproject.toml", "src/newpkg"]
    assert (tmp_path / "src" / "newpkg" / "models.py").read_text() == "FAMILIES = {}  # oldpkg\n"
    assert not (tmp_path / "src" / "oldpkg").exists()
    assert (tmp_path / "pyproject.toml").read_text() == (
        '[project]\nname = "sea-birds"\n# families: src/newpkg/models.py; src/oldpkg_x stays\n'
        '[tool.hatch.build.targets.wheel]\npackages = ["src/tabpipe", "src/newpkg"]\n'
    )
    assert (tmp_path / "src" / "tabpipe" / "stage.py").read_text() == "package = 'oldpkg'\n"
    assert (tmp_path / "dvc.yaml").read_text() == "deps: [src/oldpkg]\n", "dvc.yaml says ${}"


def test_params_are_written_with_block_sections_and_one_line_lists(root):
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["features"]["numeric"] = ["Length (mm)", "Âge"]
    params["features"]["derived"] = {"per_year": 'col("Length (mm)") / Âge'}
    text = yaml.dump(params, Dumper=ParamsDumper, sort_keys=False, allow_unicode=True)
    assert "  numeric: [Length (mm), Âge]" in text
    assert """  derived:\n    per_year: col("Length (mm)") / Âge""" in text
    assert "data:\n  raw:" in text
    assert Params.model_validate(yaml.safe_load(text)).features.numeric == ["Length (mm)", "Âge"]
    assert isinstance(root, Path)


def test_the_serving_example_sends_a_real_row_of_the_new_data(tmp_path):
    frame = kinds_table().rename(columns={"colour": "Colour's shade"})
    frame.loc[0, "x2"] = None
    chosen = plan(frame, "y")
    body = example_request(frame, chosen)
    sent = json.loads(shlex.split(f"'{body}'")[0])  # as the shell hands it to curl
    assert list(sent) == chosen.features
    assert isinstance(sent["member"], bool) and isinstance(sent["plan_code"], int)
    doc = tmp_path / "docs" / "releasing.md"
    doc.parent.mkdir()
    doc.write_text(
        "```bash\ncurl -s localhost:8000/predict -H 'content-type: application/json' -d "
        """'{"Seniority": 9,\n  "Job": "freelance"}'\n```\n"""
    )
    assert replace_serving_example(tmp_path, body) == [Path("docs/releasing.md")]
    assert "Seniority" not in doc.read_text() and "Colour'\\''s shade" in doc.read_text()


@pytest.mark.parametrize("name", ["Passenger's model", 'say "hi"', "Île/2"])
def test_the_suggested_commit_command_pastes_into_a_shell(name):
    from tabpipe.onboarding.init import Request, next_steps

    request = Request(
        source=Path("x.csv"),
        target="y",
        task=None,
        name=name,
        positive_class=None,
        exclude=(),
        categorical=(),
        numeric=(),
        drop_missing_target=False,
        force=False,
        bundle_data=True,
        run=True,
    )
    line = next(x for x in next_steps(request, "pkg").splitlines() if "git commit" in x)
    command = shlex.split(line.split("&& ", 1)[1])
    assert command == ["git", "commit", "-m", f"Initialise {name}"]


def fake_uv(tmp_path: Path, offline_exit: int) -> tuple[str, Path]:
    """A uv that records its arguments and fails `lock --offline` with ``offline_exit``."""
    calls = tmp_path / "calls"
    uv = tmp_path / "uv"
    uv.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{calls}"\n'
        f'case "$*" in *--offline*) echo "no cached metadata" >&2; exit {offline_exit};; esac\n'
    )
    uv.chmod(0o755)
    return str(uv), calls


def test_the_lock_is_updated_offline_from_the_cache_make_setup_filled(tmp_path, capsys):
    uv, calls = fake_uv(tmp_path, offline_exit=0)
    relock(uv)
    assert calls.read_text().splitlines() == ["lock --offline --quiet"]
    assert "locking online" not in capsys.readouterr().out


def test_the_lock_is_updated_online_when_the_cache_lacks_something(tmp_path, capsys):
    uv, calls = fake_uv(tmp_path, offline_exit=2)
    relock(uv)
    assert calls.read_text().splitlines() == ["lock --offline --quiet", "lock --quiet"]
    out = capsys.readouterr().out
    assert "locking online" in out and "no cached metadata" not in out


def refused_verdict() -> dict:
    return {
        "blessed": False,
        "checks": [
            {"metric": "r2", "slice": "overall", "threshold": ">= 0.0494", "value": -0.056,
             "passed": False},
            {"metric": "rmse", "slice": "overall", "threshold": "<= 2.07", "value": 2.2354,
             "passed": False},
            {"metric": "mae", "slice": "overall", "threshold": "<= 9", "value": 1.0,
             "passed": True},
        ],
    }  # fmt: skip


def test_a_refused_first_model_is_told_with_its_failed_checks_and_what_to_try(tmp_path):
    from tabpipe.onboarding.init import first_model_refusal

    verdict = tmp_path / "gate.json"
    verdict.write_text(json.dumps(refused_verdict()))
    message = first_model_refusal(verdict, "example_pkg")
    assert message is not None
    assert "the project is set up, but the gate refused its first model" in message
    assert "r2 [overall] -0.056 (needs >= 0.0494); rmse [overall] 2.2354 (needs <= 2.07)" in message
    assert "mae" not in message  # a check that passed is not a reason
    assert "src/example_pkg/features.py" in message and "gate.fail_on_reject: false" in message


@pytest.mark.parametrize("content", [None, "{not json", json.dumps({"blessed": True})])
def test_a_run_that_stopped_for_another_reason_is_no_refusal(tmp_path, content):
    from tabpipe.onboarding.init import first_model_refusal

    verdict = tmp_path / "gate.json"
    if content is not None:
        verdict.write_text(content)
    assert first_model_refusal(verdict, "example_pkg") is None
