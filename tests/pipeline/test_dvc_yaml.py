"""dvc.yaml, the package and the tests tell the same story.

Every stage runs ``python -m tabpipe.pipeline.<stage>``, that module exists and has its test
file ``tests/pipeline/test_<stage>.py``, the stage declares exactly the artifact paths that
``tabpipe.core.paths.PATHS`` names, and it depends on every module it imports.
"""

import ast
from dataclasses import fields
from pathlib import Path

import yaml

from tabpipe.cli import STAGES, stage_module
from tabpipe.core.paths import CHAMPION_FILE, PATHS


def load_dvc_yaml(root: Path) -> dict:
    return yaml.safe_load((root / "dvc.yaml").read_text())


def declared_paths(stage: dict, kind: str) -> set[str]:
    out = set()
    for entry in stage.get(kind, []):
        out.add(next(iter(entry)) if isinstance(entry, dict) else entry)
    return out


def code_deps(stage: dict, package: str) -> list[Path]:
    """The stage's source dependencies, with ${project.package} resolved."""
    deps = [d.replace("${project.package}", package) for d in stage["deps"]]
    return [Path(d) for d in deps if d.startswith("src/")]


def module_file(root: Path, module: str) -> Path | None:
    base = root / "src" / Path(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate.relative_to(root)
    return None


def imported_modules(root: Path, source: Path, module: str) -> set[str]:
    """Every module an import statement in the file names, at any depth (lazy ones too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse((root / source).read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")
                if source.name != "__init__.py":
                    package = package[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def import_closure(root: Path, start: str, package: str) -> set[Path]:
    """The project's source files a stage's module imports, directly or not.

    ``tabpipe.core.project`` imports the project package by name (``params.yaml``), so it
    counts as importing ``<package>.models``. Parent packages run on import too; their
    ``__init__`` files must then hold no code (checked below), so they are not required.
    """
    explicit: set[Path] = set()
    todo, seen = [start], set()
    while todo:
        module = todo.pop()
        if module in seen or module.split(".")[0] not in {"tabpipe", package}:
            continue
        seen.add(module)
        source = module_file(root, module)
        if source is None:
            continue  # `from pkg import name` where name is not a module
        explicit.add(source)
        todo += imported_modules(root, source, module)
        if module == "tabpipe.core.project":
            todo.append(f"{package}.models")
    return explicit


def covered(path: Path, deps: list[Path]) -> bool:
    return any(path == dep or dep in path.parents for dep in deps)


def test_the_stages_are_the_pipeline_in_order(root):
    assert tuple(load_dvc_yaml(root)["stages"]) == STAGES


def test_each_stage_is_one_module_with_one_test_file(root):
    for name, stage in load_dvc_yaml(root)["stages"].items():
        assert stage["cmd"] == f"python -m {stage_module(name)}"
        assert (root / "src" / "tabpipe" / "pipeline" / f"{name}.py").is_file()
        assert (root / "tests" / "pipeline" / f"test_{name}.py").is_file()


def test_each_stage_depends_on_every_module_it_imports(root, params):
    package = params.project.package
    for name, stage in load_dvc_yaml(root)["stages"].items():
        deps = code_deps(stage, package)
        needed = import_closure(root, stage_module(name), package)
        assert Path(f"src/tabpipe/pipeline/{name}.py") in needed
        assert Path(f"src/{package}/models.py") in needed, "params name the project's families"
        missing = sorted(str(p) for p in needed if not covered(p, deps))
        assert not missing, f"stage {name} imports {missing}, which dvc.yaml does not list"


def test_the_closure_sees_lazy_imports(root, params):
    """The walk must follow imports inside functions, or a lazy import would escape it."""
    closure = import_closure(root, "tabpipe.core.onnx_model", params.project.package)
    assert Path("src/tabpipe/core/derived.py") in closure


def _prepares_the_process(node: ast.stmt) -> bool:
    """``from tabpipe.core import startup, threads``, ``threads.configure()`` or
    ``startup.prepare_stage_process()``: the only code a package may run on import (its code
    is in src/tabpipe/core, a dep of every stage, and it changes no output: it sizes thread
    pools before numpy loads and skips an import no stage uses)."""
    if isinstance(node, ast.ImportFrom):
        names = {a.name for a in node.names}
        return node.module == "tabpipe.core" and names <= {"startup", "threads"}
    calls = {"threads.configure()", "startup.prepare_stage_process()"}
    return isinstance(node, ast.Expr) and ast.unparse(node) in calls


def test_parent_packages_run_no_code_on_import(root):
    """Package __init__ files are not listed as deps, so they may hold only a docstring
    and constants (and prepare the process: thread pools, skipped imports)."""
    for init in (root / "src").rglob("__init__.py"):
        tree = ast.parse(init.read_text())
        kinds = {type(node).__name__ for node in tree.body if not _prepares_the_process(node)}
        assert kinds <= {"Expr", "Assign", "AnnAssign"}, f"{init} holds {kinds}"


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
    from tabpipe.pipeline.evaluate import PLOT_FILES

    plotted = set()
    for entry in load_dvc_yaml(root)["plots"]:
        (config,) = entry.values()
        plotted |= set(config["y"])
    assert plotted == {f"{PATHS.plots_dir}/{name}" for name in PLOT_FILES.values()}


def test_the_confusion_plot_template_fills_from_counts_and_from_rows(root):
    """DVC fills .dvc/plots/confusion_counts.json (the template dvc.yaml names) from both
    plots/confusion.csv formats: a count per pair now, a line per row before."""
    import json

    from dvc_render import VegaRenderer

    (entry,) = [
        e for e in load_dvc_yaml(root)["plots"] if "plots/confusion.csv" in e[next(iter(e))]["y"]
    ]
    config = next(iter(entry.values()))
    assert config["template"] == "confusion_counts"
    now = [{"actual": "a", "predicted": "b", "rows": "3", "rev": "branch"}]
    before = [{"actual": "a", "predicted": "b", "rev": "main"}] * 3
    spec = VegaRenderer(
        now + before,
        "confusion_matrix",
        template=config["template"],
        template_dir=str(root / ".dvc" / "plots"),
        x=config["x"],
        y="actual",
    ).get_filled_template()
    text = json.dumps(spec)
    assert "<DVC_METRIC" not in text  # every anchor the template uses was filled
    assert spec["data"]["values"] == now + before
    transform = json.dumps(spec["spec"]["transform"])
    assert "datum.rows" in transform and '"sum"' in transform  # counts are summed
    assert '["actual", "predicted"]' in transform  # per cell of actual x predicted
