"""List your project's model families: the registry in ``src/<package>/models.py``.

``params.yaml`` names it (``project.package``). The machinery imports it once per process
and checks what it declares, so a mistake in ``models.py`` is one clear message naming the
file and the entry, not a traceback in a later stage. The package never imports ``tabpipe``:
a family is any object with the fields the template's ``models.Family`` has, checked here
by shape.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

SOURCE_ROOT = Path("src")


class ProjectError(ValueError):
    """The project package is missing or declares something the pipeline cannot use."""


@dataclass(frozen=True)
class Family:
    """One model family as the pipeline uses it (see the project's ``models.py``)."""

    name: str
    summary: str
    settings: type[BaseModel]
    estimator: Callable[[str, Any, int], Any]
    scale_numeric: bool
    register_onnx: Callable[[], None] | None


@dataclass(frozen=True)
class Project:
    package: str
    families: Mapping[str, Family]
    default_family: str

    @property
    def source(self) -> Path:
        return SOURCE_ROOT / self.package

    def family(self, name: str) -> Family:
        if name not in self.families:
            raise ProjectError(
                f"train.family: unknown family {name!r}; {self.source}/models.py defines "
                f"{', '.join(self.families)}"
            )
        return self.families[name]


def _module(package: str, name: str) -> Any:
    try:
        return importlib.import_module(f"{package}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name in {package, f"{package}.{name}"}:
            raise ProjectError(
                f"project.package: cannot import {package}.{name} "
                f"(is there a {SOURCE_ROOT / package / (name + '.py')}? run `make setup` "
                "after renaming the package)"
            ) from exc
        raise


def _family(package: str, name: Any, entry: Any) -> Family:
    where = f"{SOURCE_ROOT / package}/models.py, FAMILIES[{name!r}]"
    if not isinstance(name, str) or not name.isidentifier():
        raise ProjectError(f"{where}: a family's name must be a Python identifier")
    settings = getattr(entry, "settings", None)
    if not (isinstance(settings, type) and issubclass(settings, BaseModel)):
        raise ProjectError(f"{where}: settings must be a pydantic model class")
    try:
        settings()
    except ValidationError as exc:
        raise ProjectError(
            f"{where}: every setting needs a default ({exc.errors()[0]['loc']})"
        ) from None
    estimator = getattr(entry, "estimator", None)
    register = getattr(entry, "register_onnx", None)
    if not callable(estimator):
        raise ProjectError(f"{where}: estimator must be a function (task, settings, seed)")
    if register is not None and not callable(register):
        raise ProjectError(f"{where}: register_onnx must be a function or None")
    scale = getattr(entry, "scale_numeric", False)
    if not isinstance(scale, bool):
        raise ProjectError(f"{where}: scale_numeric must be True or False")
    return Family(name, str(getattr(entry, "summary", "")), settings, estimator, scale, register)


@functools.cache
def load(package: str) -> Project:
    """Import ``package.models`` and check the families it declares."""
    models = _module(package, "models")
    declared = getattr(models, "FAMILIES", None)
    if not isinstance(declared, Mapping) or not declared:
        raise ProjectError(f"{SOURCE_ROOT / package}/models.py: FAMILIES must be a non-empty dict")
    families = {name: _family(package, name, entry) for name, entry in declared.items()}
    default = getattr(models, "DEFAULT_FAMILY", next(iter(families)))
    if default not in families:
        raise ProjectError(
            f"{SOURCE_ROOT / package}/models.py: DEFAULT_FAMILY {default!r} is not in FAMILIES"
        )
    return Project(package, families, default)


def describe(project: Project, chosen: str | None = None) -> str:
    """The registry as text: each family, its summary and its settings with their defaults."""
    lines = [f"Model families in {project.source}/models.py (train.family in params.yaml):"]
    for name, family in project.families.items():
        marks = [m for m, on in (("default", name == project.default_family),
                                 ("chosen", name == chosen)) if on]  # fmt: skip
        shown = f"{name}  ({', '.join(marks)})" if marks else name
        lines.append(f"  {shown}: {family.summary}")
        for field, info in family.settings.model_fields.items():
            lines.append(f"      {field} = {info.default!r}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``tabpipe families``: list the model families params.yaml can choose."""
    from tabpipe.core.config import ConfigError, load_params  # config imports this module
    from tabpipe.core.paths import PARAMS_FILE

    parser = argparse.ArgumentParser(
        prog="tabpipe families",
        description="List the model families of your project package and their settings.",
    )
    parser.add_argument("--params", type=Path, default=PARAMS_FILE, help="params file")
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
    except (ConfigError, ProjectError) as exc:
        print(f"tabpipe families: {exc}", file=sys.stderr)
        return 1
    print(describe(params.code, params.train.family))
    return 0
