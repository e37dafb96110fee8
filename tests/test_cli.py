"""The tabpipe command lists and dispatches the stages."""

import subprocess
import sys

import pytest

from tabpipe.cli import STAGES, main


def test_help_lists_every_stage(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for stage in STAGES:
        assert stage in out


def test_an_unknown_command_exits_2_naming_it(capsys):
    assert main(["deploy"]) == 2
    assert "'deploy'" in capsys.readouterr().err


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_has_help_describing_it(stage, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([stage, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert f"tabpipe {stage}" in out and "--params" in out


def test_a_bad_params_file_fails_cleanly_without_a_traceback(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("data: [unclosed\n")
    done = subprocess.run(
        [sys.executable, "-m", "tabpipe.pipeline.validate", "--params", str(bad)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "not valid YAML" in done.stderr
    assert "Traceback" not in done.stderr
