"""Every artifact path is spelled once, in tabpipe.core.paths; other modules import it."""

import ast
import re
from pathlib import Path

from tabpipe.core import paths

ARTIFACT_DIRS = ("build", "reports", "metrics", "models", "plots", "monitoring")


def known_paths() -> set[str]:
    """The paths module's paths, as strings; bare words ("data", "src") are left out, since
    they are also ordinary keys and words."""
    found = {str(v) for v in vars(paths).values() if isinstance(v, Path)}
    found |= {str(getattr(paths.PATHS, f)) for f in paths.PATHS.__dataclass_fields__}
    return {p for p in found if "/" in p or "." in p}


def spelled_paths(source: Path) -> list[tuple[int, str]]:
    """String constants in code (not docstrings) that are artifact or layout paths."""
    tree = ast.parse(source.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    known = known_paths()
    shaped = re.compile(rf"^({'|'.join(ARTIFACT_DIRS)})/[\w./-]+$")
    hits = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            text = node.value.rstrip("/")
            if text in known or shaped.match(text):
                hits.append((node.lineno, node.value))
    return hits


def test_no_module_spells_an_artifact_path(root):
    package = root / "src" / "tabpipe"
    offenders = [
        f"{source.relative_to(root)}:{line}: {text!r}"
        for source in sorted(package.rglob("*.py"))
        if source != package / "core" / "paths.py"
        for line, text in spelled_paths(source)
    ]
    assert not offenders, "import these from tabpipe.core.paths:\n" + "\n".join(offenders)


def test_the_check_finds_a_spelled_path(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        '"""Writes reports/gate.json."""\nOUT = "reports/gate.json"\nB = "build/x.csv"\n'
    )
    assert spelled_paths(module) == [(2, "reports/gate.json"), (3, "build/x.csv")]
