"""Pure planning for ``tabpipe init``: what a new dataset's columns are, and its contract.

Nothing here touches the disk. :func:`plan` looks at a table and decides the task, the
feature types and the columns to leave out, or raises :class:`OnboardingError` naming
every problem at once; :func:`contract_for` infers a pandera schema with pandera's own
``infer_schema`` and tightens it into a reviewable contract; :func:`params_for` writes the
matching ``params.yaml`` content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import yaml

from tabpipe.core import contract as _registers_custom_checks  # noqa: F401  (min_rows, max_null_fraction)
from tabpipe.core.config import Task
from tabpipe.pipeline.gate import suggested_thresholds

MAX_CATEGORIES = 50  # a string column with more distinct values is not a category
MAX_CLASSES = 30  # a target with more distinct values is treated as regression (if numeric)
TEXT_MEAN_LENGTH = 40  # a string column whose values average this long is free text
SLICE_MAX_CATEGORIES = 20
MIN_ROWS_FLOOR = 50
ID_NAMES = re.compile(r"^(id|_?rownames?|index|unnamed: ?0|row_?id)$", re.IGNORECASE)


class OnboardingError(Exception):
    """The data cannot become a project as given; the message says what to change."""


@dataclass(frozen=True)
class ColumnPlan:
    target: str
    task: Task
    task_inferred: bool
    positive_class: str | None
    numeric: list[str]
    categorical: list[str]
    excluded: dict[str, str] = field(default_factory=dict)  # column -> why
    notes: list[str] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]


def plan(
    frame: pd.DataFrame,
    target: str,
    *,
    task: Task | None = None,
    positive_class: str | None = None,
    exclude: tuple[str, ...] = (),
) -> ColumnPlan:
    """Decide the task and the feature types, or explain every reason this data can't be used."""
    problems: list[str] = []
    notes: list[str] = []
    if target not in frame.columns:
        raise OnboardingError(
            f"target column {target!r} is not in the data; columns are: {list(frame.columns)}"
        )
    unknown = [name for name in exclude if name not in frame.columns]
    if unknown:
        problems.append(f"--exclude names columns that are not in the data: {unknown}")
    if len(frame) < MIN_ROWS_FLOOR:
        problems.append(f"the data has {len(frame)} rows; at least {MIN_ROWS_FLOOR} are needed")

    y = frame[target]
    missing_labels = int(y.isna().sum())
    if missing_labels:
        rows = [int(i) for i in np.flatnonzero(y.isna().to_numpy())[:5]]
        problems.append(
            f"target {target!r} is missing in {missing_labels} row(s) (row index {rows}); "
            "remove those rows or pass --drop-missing-target"
        )
    resolved, inferred, why = _task(y.dropna(), task)
    if inferred:
        notes.append(f"task: {resolved.value}, inferred because {why} (pass --task to override)")
    classes = sorted(y.dropna().astype(str).unique().tolist())
    if resolved.is_classification:
        if len(classes) < 2:
            problems.append(f"target {target!r} has a single class {classes}: nothing to learn")
        counts = y.dropna().astype(str).value_counts()
        rare = counts[counts < 2]
        if not rare.empty:
            problems.append(
                f"target classes with fewer than 2 rows cannot be split: {rare.to_dict()}"
            )
        if resolved is Task.BINARY and len(classes) > 2:
            problems.append(f"--task binary but target {target!r} has {len(classes)} classes")
    elif not pd.api.types.is_numeric_dtype(y):
        problems.append(f"--task regression but target {target!r} is not numeric ({y.dtype})")

    positive = None
    if resolved is Task.BINARY and len(classes) == 2:
        if positive_class is None:
            counts = y.dropna().astype(str).value_counts()
            positive = str(counts.sort_index().idxmin())
            notes.append(
                f"positive class: {positive!r}, the rarer of {classes} (pass --positive-class)"
            )
        elif positive_class not in classes:
            problems.append(f"--positive-class {positive_class!r} is not one of {classes}")
        else:
            positive = positive_class

    numeric: list[str] = []
    categorical: list[str] = []
    excluded = {name: "excluded with --exclude" for name in exclude if name in frame.columns}
    for name in frame.columns:
        if name == target or name in excluded:
            continue
        kind, reason = _feature_kind(frame[name])
        if kind == "numeric":
            numeric.append(str(name))
        elif kind == "categorical":
            categorical.append(str(name))
        elif kind == "identifier":
            excluded[str(name)] = reason
            notes.append(f"left out {name!r}: {reason}")
        else:
            problems.append(f"column {name!r} {reason}; pass --exclude {_quote(str(name))}")
    if not numeric and not categorical and not problems:
        problems.append("no usable feature columns remain")
    if problems:
        raise OnboardingError("cannot onboard this data:\n  - " + "\n  - ".join(problems))
    return ColumnPlan(target, resolved, inferred, positive, numeric, categorical, excluded, notes)


def _task(y: pd.Series, task: Task | None) -> tuple[Task, bool, str]:
    distinct = y.nunique()
    if task is not None:
        return task, False, "given"
    if distinct == 2:
        return Task.BINARY, True, "the target has 2 distinct values"
    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    if numeric and (distinct > MAX_CLASSES or not np.allclose(y, np.round(y))):
        return Task.REGRESSION, True, f"the target is numeric with {distinct} distinct values"
    return Task.MULTICLASS, True, f"the target has {distinct} distinct values"


def _feature_kind(column: pd.Series) -> tuple[str, str]:
    values = column.dropna()
    if values.empty:
        return "unusable", "is empty in every row"
    if pd.api.types.is_bool_dtype(column):
        return "categorical", ""
    if pd.api.types.is_numeric_dtype(column):
        if ID_NAMES.match(str(column.name)) or _is_row_counter(values, len(column)):
            return "identifier", "it looks like a row identifier (unique, increasing integers)"
        return "numeric", ""
    text = values.astype(str)
    if ID_NAMES.match(str(column.name)):
        return "identifier", "it looks like a row identifier"
    if text.str.len().mean() > TEXT_MEAN_LENGTH:
        return (
            "unusable",
            f"holds free text (values average {text.str.len().mean():.0f} characters)",
        )
    if _looks_like_dates(text):
        return "unusable", "holds dates; derive numeric features from it or leave it out"
    distinct = text.nunique()
    if distinct > MAX_CATEGORIES:
        return "unusable", f"has {distinct} distinct text values, too many for a category"
    return "categorical", ""


def _is_row_counter(values: pd.Series, rows: int) -> bool:
    if not pd.api.types.is_integer_dtype(values) or len(values) != rows or rows < 10:
        return False
    return bool(values.is_unique and values.is_monotonic_increasing)


def _looks_like_dates(text: pd.Series) -> bool:
    sample = text.head(200)
    if (
        not sample.str.contains(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4}", regex=True).mean()
        > 0.9
    ):
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() > 0.9)


def _quote(name: str) -> str:
    return f"'{name}'" if re.search(r"[^\w.-]", name) else name


def contract_spec(frame: pd.DataFrame, column_plan: ColumnPlan, name: str) -> dict[str, Any]:
    """Infer the schema with pandera, then make it a contract worth enforcing.

    pandera's inference gives nullability and observed ranges. The contract widens numeric
    ranges by 10% of the span (never below 0 for non-negative data), lists each category's
    observed values, caps each nullable column's share of nulls, requires half the rows
    seen (at least 50, at most 1000), and refuses unknown columns. The result is pandera's
    YAML schema format in the compact form of the hand-written contract (one key per check).
    """
    inferred = pa.infer_schema(frame)
    assert isinstance(inferred, pa.DataFrameSchema)
    columns: dict[str, dict[str, Any]] = {}
    for column_name, column in frame.items():
        label = str(column_name)
        nullable = bool(inferred.columns[label].nullable) and label != column_plan.target
        spec: dict[str, Any] = {}
        if label in column_plan.numeric or (
            label == column_plan.target and column_plan.task is Task.REGRESSION
        ):
            low, high = float(column.min()), float(column.max())
            margin = 0.1 * (high - low) or max(abs(high), 1.0) * 0.1
            floor = 0.0 if low >= 0 and low - margin < 0 else _round(low - margin)
            spec = {"dtype": "float64", "nullable": nullable, "coerce": True}
            spec["in_range"] = {"min_value": floor, "max_value": _round(high + margin)}
        elif label in column_plan.categorical or label == column_plan.target:
            spec = {"dtype": "str", "nullable": nullable, "coerce": True}
            spec["isin"] = sorted(column.dropna().astype(str).unique().tolist())
        else:
            spec = {"nullable": True}  # an excluded column: must be present, is not checked
        if nullable and "dtype" in spec:
            share = float(column.isna().mean())
            cap = round(min(0.99, max(0.05, 2 * share)), 2)
            spec["max_null_fraction"] = {"max_fraction": cap, "ignore_na": False}
        columns[label] = spec
    floor = int(min(1000, max(MIN_ROWS_FLOOR, len(frame) // 2)))
    return {
        "schema_type": "dataframe",
        "version": version("pandera"),
        "columns": columns,
        "checks": {"min_rows": {"min_value": floor}},
        "strict": True,
        "coerce": False,
        "name": name,
    }


def schema_from_spec(spec: dict[str, Any]) -> pa.DataFrameSchema:
    return pa.DataFrameSchema.from_yaml(yaml.safe_dump(spec, allow_unicode=True))


def contract_for(frame: pd.DataFrame, column_plan: ColumnPlan, name: str) -> pa.DataFrameSchema:
    """The inferred contract as a pandera schema (see :func:`contract_spec`)."""
    return schema_from_spec(contract_spec(frame, column_plan, name))


def _round(value: float) -> float:
    """Round a bound to 3 significant digits so the contract reads well."""
    if value == 0 or not np.isfinite(value):
        return value
    digits = 3 - int(np.floor(np.log10(abs(value)))) - 1
    return float(round(value, max(digits, 0)))


def params_for(
    column_plan: ColumnPlan,
    template: dict[str, Any],
    *,
    raw: str,
    contract: str,
    rows: int,
    categories: dict[str, int],
) -> dict[str, Any]:
    """params.yaml for the new data: data, features and slices set; model defaults kept."""
    params = {key: value for key, value in template.items()}
    params["data"] = {
        "raw": raw,
        "contract": contract,
        "target": column_plan.target,
        "task": column_plan.task.value,
        "positive_class": column_plan.positive_class,
    }
    params["features"] = {"numeric": column_plan.numeric, "categorical": column_plan.categorical}
    slices = [n for n in column_plan.categorical if 2 <= categories[n] <= SLICE_MAX_CATEGORIES]
    params["evaluate"] = {
        **template.get("evaluate", {}),
        "slice_by": slices[:2],
        "min_slice_size": max(5, min(20, rows // 50)),
    }
    params["gate"] = suggested_thresholds(column_plan.task)  # the demo's thresholds fit its data
    if not slices:
        params["gate"]["slice_thresholds"] = {}  # no categorical feature to slice by
    params["release"] = {  # the demo's model-card text describes the demo data
        **template.get("release", {}),
        "intended_use": "Not stated yet: describe who should use this model, for what, and "
        "for what not (params.yaml, release.intended_use).",
        "limitations": [],
    }
    monitor = dict(template.get("monitor") or {})
    if "drift" in monitor:  # the demo's drift thresholds name its features; TFDV: no default
        monitor["drift"] = {**monitor["drift"], "thresholds": {}}
        params["monitor"] = monitor
    return params
