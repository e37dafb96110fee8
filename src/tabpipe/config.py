"""The one typed configuration: ``params.yaml`` plus the fixed artifact layout.

Every stage loads :class:`Params` once through :func:`load_params`; no other module
reads ``params.yaml`` or spells an artifact path. ``dvc.yaml`` repeats the paths in
:data:`PATHS` because DVC needs them literally; a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PARAMS_FILE = Path("params.yaml")


class Task(StrEnum):
    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"

    @property
    def is_classification(self) -> bool:
        return self is not Task.REGRESSION


class Family(StrEnum):
    LINEAR = "linear"
    RANDOM_FOREST = "random_forest"
    GRADIENT_BOOSTING = "gradient_boosting"


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
    numeric: list[str] = []
    categorical: list[str] = []

    @property
    def all(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @model_validator(mode="after")
    def _disjoint_and_nonempty(self) -> FeatureParams:
        overlap = set(self.numeric) & set(self.categorical)
        if overlap:
            raise ValueError(f"features listed as both numeric and categorical: {sorted(overlap)}")
        if not self.all:
            raise ValueError("no features: list at least one numeric or categorical feature")
        return self


class SplitParams(_Strict):
    seed: int = 42
    test_size: float = Field(0.2, gt=0, lt=1)
    stratify: bool = True


class LinearParams(_Strict):
    C: float = Field(1.0, gt=0, description="Inverse regularisation (classification).")
    alpha: float = Field(1.0, ge=0, description="Ridge penalty (regression).")
    max_iter: int = Field(1000, gt=0)


class RandomForestParams(_Strict):
    n_estimators: int = Field(200, gt=0)
    max_depth: int | None = None
    min_samples_leaf: int = Field(1, gt=0)


class GradientBoostingParams(_Strict):
    n_estimators: int = Field(200, gt=0)
    learning_rate: float = Field(0.05, gt=0)
    max_depth: int = Field(3, gt=0)
    subsample: float = Field(1.0, gt=0, le=1)


class TrainParams(_Strict):
    seed: int = 42
    family: Family
    linear: LinearParams = LinearParams()
    random_forest: RandomForestParams = RandomForestParams()
    gradient_boosting: GradientBoostingParams = GradientBoostingParams()

    def hyperparameters(self) -> dict[str, Any]:
        return getattr(self, self.family.value).model_dump()


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
    incoming: Path = Field(
        Path("monitoring/incoming"), description="New batches; the newest file is checked."
    )
    feedback: Path = Field(
        Path("monitoring/feedback"), description="Labelled rows; the newest file is scored."
    )
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
    latency_budget_ms: float = Field(
        100.0, gt=0, description="Infra validation: p99 of one-row requests over loopback HTTP."
    )
    infra_sample_rows: int = Field(200, ge=1, description="Test rows infra validation sends.")


class Params(_Strict):
    data: DataParams
    features: FeatureParams
    split: SplitParams = SplitParams()
    train: TrainParams
    evaluate: EvaluateParams = EvaluateParams()
    export: ExportParams = ExportParams()
    monitor: MonitorParams = MonitorParams()
    gate: GateParams = GateParams()
    release: ReleaseParams = ReleaseParams()

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        if self.data.target in self.features.all:
            raise ValueError(f"the target {self.data.target!r} is also listed as a feature")
        unknown = set(self.evaluate.slice_by) - set(self.features.categorical)
        if unknown:
            raise ValueError(f"evaluate.slice_by names non-categorical features: {sorted(unknown)}")
        if self.data.task is Task.BINARY and self.data.positive_class is None:
            raise ValueError("data.positive_class is required when data.task is binary")
        return self


class ConfigError(Exception):
    """params.yaml is missing or does not describe a valid pipeline."""


def load_params(path: Path = PARAMS_FILE) -> Params:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: not found (run from the project root)") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from exc


@dataclass(frozen=True)
class Paths:
    """Where every stage writes. Mirrored in dvc.yaml (checked by tests)."""

    validated: Path = Path("build/validated.parquet")
    validation_report: Path = Path("reports/validation.json")
    validation_summary: Path = Path("reports/validation.md")
    train_split: Path = Path("build/train.parquet")
    test_split: Path = Path("build/test.parquet")
    model: Path = Path("models/model.joblib")
    train_metrics: Path = Path("metrics/train.json")
    test_metrics: Path = Path("metrics/test.json")
    slice_metrics: Path = Path("metrics/slices.json")
    plots_dir: Path = Path("plots")
    onnx_model: Path = Path("models/model.onnx")
    parity_report: Path = Path("reports/parity.json")
    reference_profile: Path = Path("reports/reference_profile.json")
    gate_verdict: Path = Path("reports/gate.json")
    gate_summary: Path = Path("reports/gate.md")


PATHS = Paths()

# The champion (the model version assigned to prod in the git registry) and its metrics.
# Written before `dvc repro` by `tabpipe champion` (make run does it) from git tags, so that
# the gate stage can depend on it without dvc repro touching the network.
CHAMPION_FILE = Path("reports/champion.json")

StageName = Literal["validate", "split", "train", "evaluate", "export", "profile", "gate"]
