"""dvc.yaml, the package and the tests tell the same story.

Every stage runs ``python -m tabpipe.<stage>``, that module exists, it has a test file,
and the stage declares exactly the artifact paths that tabpipe.config.PATHS names.
"""

from dataclasses import fields
from pathlib import Path

import yaml

from tabpipe.cli import STAGES
from tabpipe.config import CHAMPION_FILE, PATHS


def load_dvc_yaml(root: Path) -> dict:
    return yaml.safe_load((root / "dvc.yaml").read_text())


def declared_paths(stage: dict, kind: str) -> set[str]:
    out = set()
    for entry in stage.get(kind, []):
        out.add(next(iter(entry)) if isinstance(entry, dict) else entry)
    return out


def test_the_stages_are_the_pipeline_in_order(root):
    assert tuple(load_dvc_yaml(root)["stages"]) == STAGES


def test_each_stage_is_one_module_with_one_test_file(root):
    for name, stage in load_dvc_yaml(root)["stages"].items():
        assert stage["cmd"] == f"python -m tabpipe.{name}"
        assert (root / "src" / "tabpipe" / f"{name}.py").is_file()
        assert list(root.glob(f"tests/*/test_{name}.py")), f"no tests/*/test_{name}.py"
        assert f"src/tabpipe/{name}.py" in stage["deps"], "a stage depends on its own code"


def test_declared_outputs_match_the_config_paths(root):
    stages = load_dvc_yaml(root)["stages"]
    declared = set()
    for stage in stages.values():
        declared |= declared_paths(stage, "outs") | declared_paths(stage, "metrics")
    expected = {str(getattr(PATHS, f.name)) for f in fields(PATHS)}
    assert declared == expected


def test_every_stage_input_is_produced_upstream_or_versioned(root):
    stages = load_dvc_yaml(root)["stages"]
    produced: set[str] = set()
    for name, stage in stages.items():
        for dep in stage["deps"]:
            if dep.startswith(("src/", "${")):
                continue
            if dep == str(CHAMPION_FILE):  # committed; refreshed from git tags before repro
                continue
            assert dep in produced, f"{name} depends on {dep}, which no earlier stage produces"
        produced |= declared_paths(stage, "outs") | declared_paths(stage, "metrics")


def test_the_plots_read_files_that_evaluate_writes(root):
    from tabpipe.evaluate import PLOT_FILES

    plotted = set()
    for entry in load_dvc_yaml(root)["plots"]:
        (config,) = entry.values()
        plotted |= set(config["y"])
    assert plotted == {f"{PATHS.plots_dir}/{name}" for name in PLOT_FILES.values()}
