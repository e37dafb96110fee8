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


def test_help_describes_every_tool_without_importing_them(capsys):
    from tabpipe.cli import TOOLS

    heavy = ("sklearn", "pandas", "onnxruntime", "pandera")
    probe = (
        "import sys; from tabpipe.cli import main; main(['--help']); "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", "help reads docstrings, imports nothing"
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith("  ")}
    for tool in TOOLS:
        assert tool in lines and len(lines[tool].split()) > 3, f"{tool} has no summary"


@pytest.mark.parametrize("tool", ["init", "families", "template-update", "predict", "drift"])
def test_tools_have_help(tool, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([tool, "--help"])
    assert exit_.value.code == 0
    assert f"tabpipe {tool}" in capsys.readouterr().out


def test_families_lists_the_registry_and_marks_the_chosen_one(capsys, params):
    assert main(["families"]) == 0
    out = capsys.readouterr().out
    for name, family in params.code.families.items():
        assert f"  {name}" in out and family.summary in out
    assert f"{params.train.family}  (" in out and "chosen" in out
