"""The one typed configuration: ``params.yaml``, loaded once and checked strictly.

Every stage loads :class:`Params` once through :func:`load_params`; no other module reads
``params.yaml``. The ``train`` section is checked against the model families the project
package declares (``src/<package>/models.py``), derived features against the numeric
features. Artifact paths are in :mod:`tabpipe.core.paths`.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    ValidationInfo,
    create_model,
    model_validator,
)

from tabpipe.core import project as project_code
from tabpipe.core import yamldoc
from tabpipe.core.expressions import Expression, ExpressionError, parse
from tabpipe.core.paths import FEEDBACK_DIR, INCOMING_DIR, PARAMS_FILE


class Task(StrEnum):
    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"

    @property
    def is_classification(self) -> bool:
        return self is not Task.REGRESSION


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataParams(_Strict):
    raw: Path = Field(description="The DVC-tracked raw table (CSV or Parquet).")
    contract: Path = Field(description="The pandera YAML data contract for the raw table.")
    target: str
    task: Task
    positive_class: str | None = Field(
        default=None, description="Binary only: the label value that counts as positive."
    )


class FeatureParams(_Strict):
    """The raw columns the model takes, and the columns it derives from them inside itself.

    ``derived`` maps a new column's name to an expression over numeric features (see
    :mod:`tabpipe.core.expressions`); it is computed inside the exported model, so the model's
    inputs, the contract, drift and the serving signature stay the raw columns (``all``).
    """

    numeric: list[str] = []
    categorical: list[str] = []
    derived: dict[str, str] = Field(
        {}, description="name -> expression over numeric features, e.g. 'Amount / Price'"
    )

    @property
    def all(self) -> list[str]:
        """The raw feature columns, in model input order."""
        return [*self.numeric, *self.categorical]

    @property
    def expressions(self) -> dict[str, Expression]:
        return {name: parse(text) for name, text in self.derived.items()}

    @model_validator(mode="after")
    def _disjoint_and_nonempty(self) -> FeatureParams:
        overlap = set(self.numeric) & set(self.categorical)
        if overlap:
            raise ValueError(f"features listed as both numeric and categorical: {sorted(overlap)}")
        if not self.all:
            raise ValueError("no features: list at least one numeric or categorical feature")
        for name, text in self.derived.items():
            where = f"features.derived.{name}"
            if name in self.all:
                raise ValueError(f"{where}: {name!r} is already a feature column")
            try:
                expression = parse(text)
            except ExpressionError as exc:
                raise ValueError(f"{where}: {exc}") from None
            unread = [c for c in expression.columns if c not in self.numeric]
            if unread:
                raise ValueError(
                    f"{where}: {text!r} reads {unread}, which are not numeric features "
                    f"(features.numeric: {self.numeric})"
                )
        return self


class SplitParams(_Strict):
    seed: int = 42
    test_size: float = Field(0.2, gt=0, lt=1)
    stratify: bool = True
    # Columns naming a group of rows (a person, a household, a visit): a group's rows all go
    # to one side of the split, so the test split holds only groups the model has not seen.
    group_by: list[str] = Field(default_factory=list)


class TrainParams(_Strict):
    """The seed and the family; each family's settings come from the project's registry.

    The class a ``Params`` holds is made per project package by :func:`train_params_model`:
    it adds one field per family of ``src/<package>/models.py`` (``FAMILIES``), typed by that
    family's settings, so an unknown key or a wrong type is refused with its full name.
    """

    seed: int = 42
    family: str

    def settings(self) -> BaseModel:
        """The chosen family's settings."""
        settings = getattr(self, self.family, None)
        if not isinstance(settings, BaseModel):
            raise ConfigError(f"train.family {self.family!r}: no settings for this family")
        return settings

    def hyperparameters(self) -> dict[str, Any]:
        """The chosen family's settings as plain values (for reports and records)."""
        return self.settings().model_dump(mode="json")


@functools.cache
def train_params_model(package: str) -> type[TrainParams]:
    """``TrainParams`` with a settings field per family the project package declares."""
    families = project_code.load(package).families
    fields: dict[str, Any] = {
        name: (family.settings, family.settings()) for name, family in families.items()
    }
    return create_model("TrainParams", __base__=TrainParams, **fields)


class EvaluateParams(_Strict):
    slice_by: list[str] = []
    min_slice_size: int = Field(20, gt=0)


class ExportParams(_Strict):
    parity_tolerance: float = Field(1e-4, gt=0, le=1e-2)
    opset: int = Field(17, ge=13)


class DriftParams(_Strict):
    """Value drift of each feature against the training split, with TFDV's measures.

    Numeric features: Jensen-Shannon divergence (base 2, in [0, 1]) between histograms
    whose bins come from the training split; categorical ones: L-infinity distance between
    category frequencies. Like TFDV there is no default threshold: a feature without one is
    measured and recorded but never fires.
    """

    histogram: Literal["quantiles", "standard"] = Field(
        "quantiles", description="Reference bins: quantiles, or standard (equal width)."
    )
    bins: int = Field(10, ge=2, le=1000)
    thresholds: dict[str, Annotated[float, Field(ge=0, lt=1)]] = {}


class DegradationParams(_Strict):
    """How much worse than the champion's recorded test metrics labelled feedback may score."""

    min_rows: int = Field(100, gt=0, description="Fewer labelled rows than this: not checked.")
    thresholds: dict[str, Annotated[float, Field(ge=0)]] = {}


class MonitorParams(_Strict):
    incoming: Path = Field(INCOMING_DIR, description="New batches; the newest file is checked.")
    feedback: Path = Field(FEEDBACK_DIR, description="Labelled rows; the newest file is scored.")
    drift: DriftParams = DriftParams()
    degradation: DegradationParams = DegradationParams()


class ChangeThreshold(_Strict):
    """TFX's GenericChangeThreshold: how the candidate may differ from the champion.

    ``absolute`` bounds ``candidate - champion`` and ``relative`` bounds
    ``(candidate - champion) / champion``; for ``higher_is_better`` the change must be >= the
    bound (so -0.01 allows a drop of 0.01), for ``lower_is_better`` it must be <= the bound.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    direction: Literal["higher_is_better", "lower_is_better"]
    absolute: float | None = None
    relative: float | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> ChangeThreshold:
        if self.absolute is None and self.relative is None:
            raise ValueError("a change threshold needs absolute, relative or both")
        return self


class MetricThreshold(_Strict):
    """TFX's MetricThreshold: a value threshold (floor and/or ceiling), a change threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    lower_bound: float | None = None
    upper_bound: float | None = None
    change: ChangeThreshold | None = None

    @model_validator(mode="after")
    def _something(self) -> MetricThreshold:
        if self.lower_bound is None and self.upper_bound is None and self.change is None:
            raise ValueError("set lower_bound, upper_bound or change")
        if (
            self.lower_bound is not None
            and self.upper_bound is not None
            and self.lower_bound > self.upper_bound
        ):
            raise ValueError(f"lower_bound {self.lower_bound} > upper_bound {self.upper_bound}")
        return self


class GateParams(_Strict):
    """The model gate (TFX Evaluator semantics); no thresholds at all means nothing is blessed."""

    fail_on_reject: bool = Field(
        True, description="Exit non-zero after writing the verdict when the model is rejected."
    )
    thresholds: dict[str, MetricThreshold] = Field(
        {}, description="Per metric, applied to the whole test split."
    )
    slice_thresholds: dict[str, MetricThreshold] = Field(
        {}, description="Per metric, applied to each slice in metrics/slices.json."
    )


class ReleaseParams(_Strict):
    """What a release carries besides the model: the model card's words, serving limits."""

    intended_use: str = Field(
        "Not stated: describe who should use this model, for what, and for what not.",
        description="The model card's intended-use section.",
    )
    limitations: list[str] = Field([], description="Known limitations, one per item.")
    max_batch: int = Field(1000, ge=1, le=100_000, description="Largest batch the service takes.")
    max_body_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Largest request body; larger ones get 413."
    )
    body_timeout_s: float = Field(
        10.0, gt=0, le=600, description="Seconds to receive a request body; then 408."
    )
    max_concurrent: int = Field(
        32, ge=1, le=10_000, description="Requests in flight at once; more get 503."
    )
    latency_budget_ms: float = Field(
        100.0, gt=0, description="Infra validation: p99 of one-row requests over loopback HTTP."
    )
    infra_sample_rows: int = Field(200, ge=1, description="Test rows infra validation sends.")


class ProjectParams(_Strict):
    package: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Your code: src/<package> (features.py, models.py); init renames it.",
    )


def _unwrap(annotation: Any) -> Any:
    """The type inside Annotated[...], X | None and SerializeAsAny[...]."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def _known_keys(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The keys the section at ``loc`` takes (empty if it is not a fixed set)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            current = None if field is None else field.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            return []
        if current is None:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _problems(
    errors: Sequence[Any],
    prefix: tuple[Any, ...] = (),
    doc: yamldoc.Document | None = None,
    model: type[BaseModel] | None = None,
) -> list[str]:
    """One entry per error: where in the file (line), which key, what is wrong."""
    out = []
    for e in errors:
        loc = (*prefix, *e["loc"])
        dotted = ".".join(str(p) for p in loc if p != "")
        message = e["msg"].removeprefix("Value error, ")
        if not dotted:  # a model-level check; its message may hold several problems
            out += message.split("\n")
            continue
        if e["type"] == "extra_forbidden" and loc:
            known = _known_keys(model, e["loc"][:-1]) if model else []
            kind = "section" if len(loc) == 1 else "key"
            message = f"unknown {kind}{yamldoc.suggestion(str(loc[-1]), known)}"
            if known:
                message += f"; {'.'.join(map(str, loc[:-1])) or 'the file'} takes " + ", ".join(
                    known
                )
        line = doc.line(loc) if doc is not None and loc else None
        out.append(f"line {line}: {dotted}: {message}" if line else f"{dotted}: {message}")
    return out


class Params(_Strict):
    project: ProjectParams
    data: DataParams
    features: FeatureParams
    split: SplitParams = SplitParams()
    train: SerializeAsAny[TrainParams]  # dumped with its families' settings
    evaluate: EvaluateParams = EvaluateParams()
    export: ExportParams = ExportParams()
    monitor: MonitorParams = MonitorParams()
    gate: GateParams = GateParams()
    release: ReleaseParams = ReleaseParams()

    @model_validator(mode="before")
    @classmethod
    def _train_from_the_project(cls, raw: Any, info: ValidationInfo) -> Any:
        """Validate ``train`` against the families the project package declares."""
        section = raw.get("project") if isinstance(raw, dict) else None
        package = section.get("package") if isinstance(section, dict) else None
        if not isinstance(package, str) or not isinstance(raw.get("train"), dict):
            return raw  # the field validators say what is missing
        train = _project_train(package, raw["train"], (info.context or {}).get("doc"))
        return {**raw, "train": train}

    @property
    def code(self) -> project_code.Project:
        """The project package: its model families."""
        return project_code.load(self.project.package)

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        if self.data.target in self.features.all:
            raise ValueError(f"the target {self.data.target!r} is also listed as a feature")
        unknown = set(self.evaluate.slice_by) - set(self.features.categorical)
        if unknown:
            raise ValueError(f"evaluate.slice_by names non-categorical features: {sorted(unknown)}")
        if self.data.task is Task.BINARY and self.data.positive_class is None:
            raise ValueError("data.positive_class is required when data.task is binary")
        if self.data.target in self.features.derived:
            raise ValueError(f"features.derived.{self.data.target}: that is the target's name")
        return self


class ConfigError(Exception):
    """params.yaml is missing or does not describe a valid pipeline."""


def _project_train(package: str, raw: dict[str, Any], doc: yamldoc.Document | None) -> TrainParams:
    """``train`` checked against the project's families; ValueError naming key and line."""

    def at(loc: tuple[Any, ...]) -> str:
        line = doc.line(loc) if doc is not None else None
        return f"line {line}: " if line else ""

    try:
        declared = project_code.load(package)
    except project_code.ProjectError as exc:
        raise ValueError(f"{at(('project', 'package'))}{exc}") from None
    family = raw.get("family")
    if isinstance(family, str):
        try:
            declared.family(family)
        except project_code.ProjectError as exc:
            raise ValueError(f"{at(('train', 'family'))}{exc}") from None
    model = train_params_model(package)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ValueError("\n".join(_problems(exc.errors(), ("train",), doc, model))) from None


def load_params(path: Path = PARAMS_FILE) -> Params:
    """params.yaml as a typed, checked Params; every problem names its line."""
    try:
        doc = yamldoc.load(path)
    except yamldoc.YamlFileError as exc:
        if not path.exists():
            raise ConfigError(f"{path}: not found (run from the project root)") from None
        raise ConfigError(str(exc)) from None
    data = doc.data
    if not isinstance(data, dict):
        shown = "empty" if data is None else f"a {type(data).__name__}"
        raise ConfigError(
            f"{path}: the file is {shown}; params.yaml is a mapping of sections "
            f"({', '.join(Params.model_fields)})"
        )
    try:
        return Params.model_validate(data, context={"doc": doc})
    except ValidationError as exc:
        problems = _problems(exc.errors(), (), doc, Params)
        if isinstance(data.get("train"), dict) and not any(e["loc"] for e in exc.errors()):
            # The train section failed (its check runs first and stops validation): check
            # the other sections too, so one run names every problem.
            try:
                Params.model_validate({**data, "train": None})
            except ValidationError as rest:
                others = [e for e in rest.errors() if e["loc"][:1] != ("train",)]
                problems += _problems(others, (), doc, Params)
        if len(problems) == 1:
            raise ConfigError(f"{path}: {problems[0]}") from exc
        listed = "\n  - ".join(problems)
        raise ConfigError(f"{path}: {len(problems)} problems:\n  - {listed}") from exc
