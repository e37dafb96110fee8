"""The project package's family registry: checked by shape, every mistake named."""

import sys
import textwrap

import pytest
import yaml

from tabpipe.core import project
from tabpipe.core.config import ConfigError, load_params

GOOD = """
from dataclasses import dataclass
from pydantic import BaseModel

class Tiny(BaseModel):
    depth: int = 3

@dataclass(frozen=True)
class Family:
    summary: str
    settings: type
    estimator: object
    scale_numeric: bool = False
    register_onnx: object = None

def make(task, settings, seed):
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
    cls = DecisionTreeRegressor if task == "regression" else DecisionTreeClassifier
    return cls(max_depth=settings.depth, random_state=seed)

FAMILIES = {"tree": Family("a decision tree", Tiny, make)}
DEFAULT_FAMILY = "tree"
"""


@pytest.fixture
def package(tmp_path, monkeypatch):
    """Write src/<name>/models.py under tmp_path, importable, and forget it afterwards."""
    created = []

    def write(name: str, models: str) -> str:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
        (tmp_path / name / "models.py").write_text(textwrap.dedent(models))
        created.append(name)
        return name

    monkeypatch.syspath_prepend(str(tmp_path))
    yield write
    for name in created:
        for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[module]
    project.load.cache_clear()


def test_a_registry_of_one_family_loads(package):
    code = project.load(package("onefamily", GOOD))
    assert list(code.families) == ["tree"] and code.default_family == "tree"
    assert code.families["tree"].settings().depth == 3


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("FAMILIES = {}", "FAMILIES must be a non-empty dict"),
        ('DEFAULT_FAMILY = "forest"', "DEFAULT_FAMILY 'forest' is not in FAMILIES"),
        ('FAMILIES = {"tree": Family("t", dict, make)}', "settings must be a pydantic model"),
        ('FAMILIES = {"tree": Family("t", Tiny, None)}', "estimator must be a function"),
        ('FAMILIES = {"tree": Family("t", Tiny, make, "yes")}', "scale_numeric must be True"),
        ('FAMILIES = {"my tree": Family("t", Tiny, make)}', "must be a Python identifier"),
        (
            'class Bare(BaseModel):\n    depth: int\nFAMILIES = {"tree": Family("t", Bare, make)}',
            "every setting needs a default",
        ),
    ],
)
def test_a_malformed_registry_is_refused_naming_file_and_entry(package, change, problem):
    name = package(f"bad{abs(hash(change)) % 10**8}", GOOD + "\n" + change + "\n")
    with pytest.raises(project.ProjectError, match=problem) as caught:
        project.load(name)
    assert f"src/{name}/models.py" in str(caught.value)


def test_an_unknown_family_names_the_registered_ones(tmp_path, root, params):
    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw["train"]["family"] = "xgbost"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="unknown family 'xgbost'") as caught:
        load_params(path)
    for family in params.code.families:
        assert family in str(caught.value)


def test_a_setting_of_another_family_or_a_typo_is_refused_with_its_full_name(tmp_path, root):
    raw = yaml.safe_load((root / "params.yaml").read_text())
    family = raw["train"]["family"]
    raw["train"][family] = {**(raw["train"].get(family) or {}), "n_trees": 5}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=rf"train\.{family}\.n_trees"):
        load_params(path)


def test_a_missing_project_package_says_how_to_fix_it(tmp_path, root):
    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw["project"]["package"] = "no_such_package_here"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"cannot import no_such_package_here\.models"):
        load_params(path)
