"""tabpipe check: params.yaml and the contract as files, in a step that always runs.

``dvc repro`` re-runs a stage only when its inputs change, so a misspelled section in
params.yaml passed ``make run`` with exit 0; the check runs first in ``make run``, in
``make validate-data`` (CI's data-contract job) and in the validate stage.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tabpipe.core import check
from tabpipe.core.paths import INGEST_JOURNAL
from tabpipe.pipeline import validate


def test_the_projects_files_pass(project, capsys):
    assert check.main([]) == 0
    assert "valid files" in capsys.readouterr().out


def test_an_unknown_section_of_params_fails_with_its_line_although_no_stage_reads_it(
    project, capsys
):
    text = (project / "params.yaml").read_text()
    (project / "params.yaml").write_text(text + "\ntrian:\n  seed: 1\n")
    line = len((text + "\n").splitlines()) + 1
    assert check.main([]) == 1
    err = capsys.readouterr().err
    assert f"line {line}: trian: unknown section (did you mean 'train'?)" in err
    assert "Traceback" not in err


def test_a_misspelled_check_in_the_contract_fails_check_and_validate(project, params, capsys):
    contract = project / params.data.contract
    text = contract.read_text()
    assert "in_range:" in text
    contract.write_text(text.replace("in_range:", "in_rnage:", 1))
    line = next(i for i, s in enumerate(contract.read_text().splitlines(), 1) if "in_rnage" in s)
    assert check.main([]) == 1
    assert f"{params.data.contract}:{line}:" in capsys.readouterr().err
    assert validate.main([]) == 1
    assert "in_rnage" in capsys.readouterr().err
    assert not (project / "reports").exists(), "nothing written by a refused validate"


def test_params_naming_a_column_the_contract_lacks_fail(project, params, capsys):
    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["features"]["numeric"] = [*raw["features"]["numeric"], "not_a_column"]
    (project / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    assert check.main([]) == 1
    assert "does not declare: ['not_a_column']" in capsys.readouterr().err


def test_a_split_group_naming_a_column_the_contract_lacks_fails(project, capsys):
    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["split"]["group_by"] = ["househld"]
    (project / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    assert check.main([]) == 1
    assert "split.group_by names columns that" in capsys.readouterr().err
    assert validate.main([]) == 1
    assert "['househld']" in capsys.readouterr().err


def test_an_interrupted_ingest_stops_check_and_validate(project, capsys):
    INGEST_JOURNAL.parent.mkdir(parents=True)
    INGEST_JOURNAL.write_text("{}")
    assert check.main([]) == 1
    assert "tabpipe ingest --status" in capsys.readouterr().err
    assert validate.main([]) == 1
    assert "interrupted" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["run", "validate-data"])
def test_make_runs_the_check_before_the_pipeline_and_the_data_contract_job(root, target):
    if shutil.which("make") is None:
        pytest.fail("make is needed to run the project's targets")
    planned = subprocess.run(
        ["make", "-n", target], cwd=root, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert "tabpipe check" in planned
    first_real = next(
        i for i, line in enumerate(planned) if "tabpipe.pipeline" in line or line == "dvc repro"
    )
    assert planned.index("tabpipe check") < first_real
