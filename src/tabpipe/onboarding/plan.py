"""Pure planning for ``tabpipe init``: what a new dataset's columns are, and its contract.

Nothing here touches the disk. :func:`plan` looks at a table and decides the task, the
feature types and the columns to leave out, or raises :class:`OnboardingError` naming
every problem at once; :func:`contract_spec` writes the contract those decisions imply, in
pandera's YAML schema format (pandera's ``infer_schema`` would give each column its dtype
and observed range, but not integer codes' allowed values, a category's order or outward
bounds); :func:`params_for` writes the matching ``params.yaml`` content.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import yaml

from tabpipe.core import contract as _registers_custom_checks  # noqa: F401  (min_rows, max_null_fraction)
from tabpipe.core.config import Task
from tabpipe.core.yamldoc import suggestion
from tabpipe.monitoring.degradation import SUGGESTED_THRESHOLDS as SUGGESTED_DEGRADATION
from tabpipe.pipeline.gate import Evidence, suggested_thresholds

MAX_CATEGORIES = 50  # a string column with more distinct values is not a category
MAX_CLASSES = 30  # a target with more distinct values is treated as regression (if numeric)
MAX_CODES = 10  # an integer column with at most this many distinct values is offered as codes
NEAR_UNIQUE = 0.95  # a column whose values are this unique is an identifier, not a feature
TEXT_MEAN_LENGTH = 40  # a string column whose values average this long is free text
SLICE_MAX_CATEGORIES = 20
MIN_ROWS_FLOOR = 50
LISTED_COLUMNS = 20  # an error names at most this many of the table's columns
ID_NAMES = re.compile(r"^(id|_?rownames?|index|unnamed: ?0|row_?id)$", re.IGNORECASE)
# A column is taken for a group identifier (panel data: one person's rows in a run) only when
# its name says so and its values run in blocks; either alone is too weak (a table sorted by
# age runs in blocks; a column named "member" may be a feature).
# fmt: off
GROUP_WORDS = frozenset({
    "id", "pid", "hhid", "uid", "cid", "sid", "individual", "person", "subject", "patient",
    "household", "family", "user", "customer", "client", "member", "group", "respondent",
})
# fmt: on
MIN_GROUPS = 20
GIVEN_GROUP = "given with --group-by: split.group_by keeps each group's rows on one side"


class OnboardingError(Exception):
    """The data cannot become a project as given; the message says what to change."""


def _listing(columns: Any) -> str:
    """The table's columns for an error message: all of them, or the first ones and a count."""
    names = [str(c) for c in columns]
    if len(names) <= LISTED_COLUMNS:
        return str(names)
    return f"{names[:LISTED_COLUMNS]} and {len(names) - LISTED_COLUMNS} more"


class Kind(StrEnum):
    """What a column becomes; every kind but NUMERIC is a categorical feature of the model."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    ORDERED = "ordered"  # a pandas category with an order: the contract keeps the order
    BOOLEAN = "boolean"  # True/False (native, or text that the reader parsed as booleans)
    CODES = "codes"  # integers with few distinct values, e.g. 1/2/3


@dataclass(frozen=True)
class Decision:
    """What init decided for one column, and why, in words a user can act on."""

    column: str
    kind: Kind | None  # None: left out
    why: str
    group: bool = False  # names groups of rows: split.group_by keeps each on one side

    @property
    def shown(self) -> str:
        """What the column became, in a word or three."""
        if self.kind:
            return self.kind.value
        return "group identifier, left out" if self.group else "left out"

    def describe(self) -> str:
        return f"{self.column!r}: {self.shown}" + (f" ({self.why})" if self.why else "")


@dataclass(frozen=True)
class ColumnPlan:
    target: str
    task: Task
    task_inferred: bool
    positive_class: str | None
    numeric: list[str]
    categorical: list[str]
    excluded: dict[str, str] = field(default_factory=dict)  # column -> why
    group_by: list[str] = field(default_factory=list)  # split.group_by
    notes: list[str] = field(default_factory=list)
    kinds: dict[str, Kind] = field(default_factory=dict)  # every feature's kind
    decisions: list[Decision] = field(default_factory=list)  # one per column but the target

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def kind(self, name: str) -> Kind:
        return self.kinds.get(name, Kind.NUMERIC if name in self.numeric else Kind.CATEGORICAL)


def suggest(flag: str, name: str) -> str:
    """A command-line option a user can paste into a POSIX shell, whatever the column's name."""
    return f"{flag} {shlex.quote(name)}"


def plan(
    frame: pd.DataFrame,
    target: str,
    *,
    task: Task | None = None,
    positive_class: str | None = None,
    exclude: tuple[str, ...] = (),
    categorical: tuple[str, ...] = (),
    numeric: tuple[str, ...] = (),
    group_by: tuple[str, ...] = (),
) -> ColumnPlan:
    """Decide the task and the feature types, or explain every reason this data can't be used.

    ``categorical`` and ``numeric`` override the inferred kind of the columns they name.
    ``group_by`` names the columns whose rows the split keeps together; without it, a column
    that looks like a group identifier (:func:`_group_identifier`) is one, and left out.
    """
    problems: list[str] = []
    notes: list[str] = []
    if target not in frame.columns:
        raise OnboardingError(
            f"target column {target!r} is not in the data{suggestion(target, frame.columns)}; "
            f"columns are: {_listing(frame.columns)}"
        )
    for flag, names in (
        ("--exclude", exclude),
        ("--categorical", categorical),
        ("--numeric", numeric),
        ("--group-by", group_by),
    ):
        unknown = [name for name in names if name not in frame.columns]
        if unknown:
            hints = "".join(suggestion(name, frame.columns) for name in unknown)
            problems.append(f"{flag} names columns that are not in the data: {unknown}{hints}")
        if target in names:
            problems.append(f"{flag} names the target {target!r}")
    clash = sorted(set(categorical) & set(numeric))
    if clash:
        problems.append(f"columns given both --categorical and --numeric: {clash}")
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
            amounts = (
                " (the task was inferred from whole numbers: pass --task regression if they "
                "are amounts)"
                if inferred
                and pd.api.types.is_numeric_dtype(y)
                and not pd.api.types.is_bool_dtype(y)
                else ""
            )
            problems.append(
                f"target classes with fewer than 2 rows cannot be split: {rare.to_dict()}" + amounts
            )
        if resolved is Task.BINARY and len(classes) > 2:
            problems.append(f"--task binary but target {target!r} has {len(classes)} classes")
    elif not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
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
    elif positive_class is not None and resolved is not Task.BINARY:
        # A binary project's option: silently ignored, it would leave the user believing a
        # class was chosen (iris, multiclass, onboarded with --positive-class setosa).
        problems.append(
            f"--positive-class is for a binary target; {target!r} is a {resolved.value} "
            "target: leave it out, or pass --task binary for a two-class target"
        )

    numeric_features: list[str] = []
    categorical_features: list[str] = []
    kinds: dict[str, Kind] = {}
    decisions: list[Decision] = []
    excluded = {name: "excluded with --exclude" for name in exclude if name in frame.columns}
    groups = [name for name in group_by if name in frame.columns]
    for name in frame.columns:
        label = str(name)
        if label == target:
            continue
        if label in excluded:
            decisions.append(Decision(label, None, excluded[label]))
            continue
        forced = Kind.NUMERIC if label in numeric else None
        forced = Kind.CATEGORICAL if label in categorical else forced
        if label in group_by and forced is None:
            decision, problem = Decision(label, None, GIVEN_GROUP, group=True), None
        else:
            decision, problem = _decide(frame[name], forced, detect_groups=not group_by)
        if problem:
            problems.append(problem)
            continue
        decisions.append(decision)
        if decision.group and label not in groups:
            groups.append(label)
        if decision.kind is None:
            excluded[label] = decision.why
        elif decision.kind is Kind.NUMERIC:
            numeric_features.append(label)
        else:
            categorical_features.append(label)
            kinds[label] = decision.kind
    if not numeric_features and not categorical_features and not problems:
        left_out = "".join(f"\n      {d.describe()}" for d in decisions)
        problems.append("no usable feature columns remain; each column was left out:" + left_out)
    if problems:
        raise OnboardingError("cannot onboard this data:\n  - " + "\n  - ".join(problems))
    return ColumnPlan(
        target,
        resolved,
        inferred,
        positive,
        numeric_features,
        categorical_features,
        excluded,
        groups,
        notes,
        kinds,
        decisions,
    )


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


def _decide(
    column: pd.Series, forced: Kind | None, *, detect_groups: bool = True
) -> tuple[Decision, str | None]:
    """One column's kind, or the problem that stops it being a feature (the message says the
    option that fixes it)."""
    name = str(column.name)
    values = column.dropna()
    exclude_it = suggest("--exclude", name)
    if values.empty:
        return Decision(name, None, ""), f"column {name!r} is empty in every row; pass {exclude_it}"
    distinct = int(values.nunique())
    if distinct == 1:
        shown = _show(values.iloc[0])
        return Decision(name, None, f"constant: every value is {shown}"), None
    if forced is Kind.NUMERIC:
        if not _is_numeric(column):
            return Decision(name, None, ""), (
                f"--numeric {shlex.quote(name)}: column {name!r} is not numeric ({column.dtype})"
            )
        return Decision(name, Kind.NUMERIC, "given with --numeric"), None
    if forced is Kind.CATEGORICAL:
        if distinct > MAX_CATEGORIES:
            return Decision(name, None, ""), (
                f"--categorical {shlex.quote(name)}: column {name!r} has {distinct} distinct "
                f"values, more than {MAX_CATEGORIES} categories"
            )
        kind = Kind.CODES if _is_integral(column) else _categorical_kind(column)
        return Decision(name, kind, "given with --categorical"), None
    group = _group_identifier(column) if detect_groups and forced is None else None
    if group:
        return Decision(name, None, group, group=True), None
    if ID_NAMES.match(name):
        return Decision(name, None, "its name says it is a row identifier"), None
    if pd.api.types.is_bool_dtype(column) or _holds_booleans(values):
        return Decision(name, Kind.BOOLEAN, "True/False values"), None
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = len(column.dtype.categories)
        if categories > MAX_CATEGORIES:
            return Decision(name, None, ""), (
                f"column {name!r} is a category with {categories} categories, too many; "
                f"pass {exclude_it}"
            )
        kind = _categorical_kind(column)
        why = "a category with an order: " + " < ".join(map(str, column.dtype.categories))
        return Decision(name, kind, why if kind is Kind.ORDERED else ""), None
    if _is_numeric(column):
        unique_share = distinct / len(values)
        if _is_integral(column) and unique_share >= NEAR_UNIQUE and len(values) >= MIN_ROWS_FLOOR:
            return Decision(
                name,
                None,
                f"an identifier: {unique_share:.0%} of its integer values are distinct; "
                f"pass {suggest('--numeric', name)} to use it as a number",
            ), None
        if _is_integral(column) and distinct <= MAX_CODES:
            codes = ", ".join(_show(v) for v in sorted(values.unique())[:MAX_CODES])
            return Decision(
                name,
                Kind.CODES,
                f"integer codes {codes}: pass {suggest('--numeric', name)} if they are amounts",
            ), None
        return Decision(name, Kind.NUMERIC, ""), None
    text = values.astype(str)
    mean_length = text.str.len().mean()
    if mean_length > TEXT_MEAN_LENGTH:
        return Decision(name, None, ""), (
            f"column {name!r} holds free text (values average {mean_length:.0f} characters); "
            f"pass {exclude_it}"
        )
    if _looks_like_dates(text):
        return Decision(name, None, ""), (
            f"column {name!r} holds dates; derive numeric features from it or pass {exclude_it}"
        )
    if distinct > MAX_CATEGORIES and distinct / len(values) >= NEAR_UNIQUE:
        return Decision(
            name, None, f"an identifier: {distinct / len(values):.0%} of its values are distinct"
        ), None
    if distinct > MAX_CATEGORIES:
        return Decision(name, None, ""), (
            f"column {name!r} has {distinct} distinct text values, too many for a category; "
            f"pass {exclude_it}"
        )
    return Decision(name, Kind.CATEGORICAL, ""), None


def _group_identifier(column: pd.Series) -> str | None:
    """Why ``column`` names groups of rows, or None: a name with a word of
    :data:`GROUP_WORDS`, no missing value, at least :data:`MIN_GROUPS` values, each on two or
    more rows and all of them in one run of consecutive rows (statsmodels' modechoice: an
    ``individual`` on four rows, one per travel mode)."""
    name = str(column.name)
    words = {w.lower() for w in re.findall(r"[A-Za-z][a-z]*|[A-Z]+(?![a-z])", name)}
    if not words & GROUP_WORDS or column.isna().any():
        return None
    counts = column.value_counts(sort=False)
    runs = int((column != column.shift()).sum())
    if len(counts) < MIN_GROUPS or counts.min() < 2 or runs != len(counts):
        return None
    flag = suggest("--numeric", name) if _is_numeric(column) else suggest("--categorical", name)
    return (
        f"{len(counts)} values, each on a run of {_rows_each(counts)} consecutive rows: "
        "split.group_by keeps each group's rows on one side of the split (pass "
        f"{flag} to make it a feature instead)"
    )


def _rows_each(counts: pd.Series) -> str:
    low, high = int(counts.min()), int(counts.max())
    return str(low) if low == high else f"{low} to {high}"


def _categorical_kind(column: pd.Series) -> Kind:
    if pd.api.types.is_bool_dtype(column) or _holds_booleans(column.dropna()):
        return Kind.BOOLEAN
    if isinstance(column.dtype, pd.CategoricalDtype) and column.dtype.ordered:
        return Kind.ORDERED
    return Kind.CATEGORICAL


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _is_integral(column: pd.Series) -> bool:
    """Integer values, also when a reader stored them as floats because some are missing."""
    if not _is_numeric(column):
        return False
    if pd.api.types.is_integer_dtype(column):
        return True
    values = column.dropna().to_numpy(dtype=np.float64)
    return bool(np.isfinite(values).all() and (values == np.round(values)).all())


def _holds_booleans(values: pd.Series) -> bool:
    """An object column of Python booleans: what CSV readers give a True/False column with
    missing cells."""
    return values.dtype == object and all(isinstance(v, bool | np.bool_) for v in values)


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value.item() if isinstance(value, np.generic) else value)


def _looks_like_dates(text: pd.Series) -> bool:
    sample = text.head(200)
    if (
        not sample.str.contains(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4}", regex=True).mean()
        > 0.9
    ):
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() > 0.9)


def contract_spec(frame: pd.DataFrame, column_plan: ColumnPlan, name: str) -> dict[str, Any]:
    """Infer the contract from the data, in the compact form of the hand-written one.

    Numeric ranges are the observed ones widened by 10% of the span (never below 0 for
    non-negative data) and rounded outward, so the contract always accepts the data it came
    from. Categories list the observed values (a pandas category: its declared categories,
    in their order when it is ordered); integer codes stay integers; booleans are pandas'
    nullable ``boolean``, whose coercion refuses text (``bool``'s would turn "False" into
    True). Each nullable column's share of nulls is capped, half the rows seen (at least 50,
    at most 1000) are required, the share of duplicate rows is capped
    (:func:`duplicate_check`), and unknown columns are refused. The result is pandera's
    YAML schema format, one key per check.
    """
    columns: dict[str, dict[str, Any]] = {}
    for column_name, column in frame.items():
        label = str(column_name)
        nullable = bool(column.isna().any()) and label != column_plan.target
        is_feature = label in column_plan.features
        kind = column_plan.kind(label) if is_feature else None
        spec: dict[str, Any] = {}
        if kind is Kind.NUMERIC or (
            label == column_plan.target and column_plan.task is Task.REGRESSION
        ):
            low, high = outward_bounds(float(column.min()), float(column.max()))
            spec = {"dtype": "float64", "nullable": nullable, "coerce": True}
            spec["in_range"] = {"min_value": low, "max_value": high}
        elif kind is Kind.BOOLEAN:
            spec = {"dtype": "boolean", "nullable": nullable, "coerce": True}
        elif kind is Kind.CODES:
            codes = sorted(int(v) for v in column.dropna().unique())
            spec = {"dtype": "Int64", "nullable": nullable, "coerce": True, "isin": codes}
        elif is_feature or label == column_plan.target:
            spec = {"dtype": "str", "nullable": nullable, "coerce": True}
            spec["isin"] = categories_of(column)
            if kind is Kind.ORDERED:
                spec["description"] = "ordered: " + " < ".join(spec["isin"])
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
        "checks": {"min_rows": {"min_value": floor}, **duplicate_check(frame)},
        "strict": True,
        "coerce": False,
        "name": name,
    }


def categories_of(column: pd.Series) -> list[str]:
    """A category column's allowed values: a pandas category's own (in its order), else the
    observed values, sorted."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [str(c) for c in column.dtype.categories]
    return sorted(column.dropna().astype(str).unique().tolist())


# How many times its rows a table may grow by ingests before the duplicate cap binds.
GROWTH = 10


def duplicate_check(frame: pd.DataFrame) -> dict[str, Any]:
    """The share of exact duplicate rows allowed, from the share ``s`` the data holds.

    Rows of coarse data repeat more often as the table grows: two draws land on the same
    cell in proportion to the rows already there, so the share grows with the row count.
    iris (lengths to a tenth of a centimetre) repeats 1 of its 150 rows; new flowers drawn
    from its classes' own means and covariances, rounded alike, repeated 1.0% of 300 rows,
    2.1% of 600 and 4.5% of 1,500 (20 draws each), and a cap at twice the share seen, 1.3%,
    refused the table after its second ingest. The cap is the share the table would hold
    at GROWTH times its rows, ``GROWTH x s`` (at least 1%), kept below the ``(1 + s) / 2``
    the table given twice holds: ``(1 + 3s) / 4`` from ``s = 1/37`` on, where the two meet.
    Data whose rows legitimately repeat keeps passing as it grows; a table concatenated with
    itself is refused (a batch ingested twice is refused by ingest itself: every row is
    already in the table). statsmodels' RAND health data repeats 55% of its rows
    (person-years of coarse features).
    """
    share = float(frame.duplicated().mean()) if len(frame) else 0.0
    cap = min(max(0.01, GROWTH * share), (1 + 3 * share) / 4)
    return {"max_duplicate_fraction": {"max_fraction": round(cap, 3)}}


def schema_from_spec(spec: dict[str, Any]) -> pa.DataFrameSchema:
    return pa.DataFrameSchema.from_yaml(yaml.safe_dump(spec, allow_unicode=True))


def contract_for(frame: pd.DataFrame, column_plan: ColumnPlan, name: str) -> pa.DataFrameSchema:
    """The inferred contract as a pandera schema (see :func:`contract_spec`)."""
    return schema_from_spec(contract_spec(frame, column_plan, name))


def outward_bounds(low: float, high: float) -> tuple[float, float]:
    """The observed range widened by 10% of its span, rounded outward to the margin's
    decimal place: ``[52.5002, 52.5398]`` gives ``[52.496, 52.544]``, ``[120, 4980]`` gives
    ``[0, 5500]``. The result always contains ``[low, high]``."""
    span = high - low
    margin = 0.1 * span if span > 0 else max(abs(high), 1.0) * 0.1
    step = 10.0 ** math.floor(math.log10(margin))
    decimals = max(0, -math.floor(math.log10(step)))
    widened_low = 0.0 if low >= 0 > low - margin else low - margin
    floor = round(math.floor(widened_low / step) * step, decimals)
    ceil = round(math.ceil((high + margin) / step) * step, decimals)
    while floor > low:  # float rounding of the products above: step out once more
        floor = round(floor - step, decimals)
    while ceil < high:
        ceil = round(ceil + step, decimals)
    return float(floor), float(ceil)


def params_for(
    column_plan: ColumnPlan,
    template: dict[str, Any],
    *,
    raw: str,
    contract: str,
    rows: int,
    categories: dict[str, int],
    evidence: Evidence | None = None,
) -> dict[str, Any]:
    """params.yaml for the new data: data, features, slices and the gate set (the gate from
    ``evidence`` when measured, see :func:`gate_for`); model defaults kept."""
    params = {key: value for key, value in template.items()}
    params["data"] = {
        "raw": raw,
        "contract": contract,
        "target": column_plan.target,
        "task": column_plan.task.value,
        "positive_class": column_plan.positive_class,
    }
    params["features"] = {"numeric": column_plan.numeric, "categorical": column_plan.categorical}
    params["split"] = {**template.get("split", {}), "group_by": list(column_plan.group_by)}
    slices = [n for n in column_plan.categorical if 2 <= categories[n] <= SLICE_MAX_CATEGORIES]
    params["evaluate"] = {
        **template.get("evaluate", {}),
        "slice_by": slices[:2],
        "min_slice_size": max(5, min(20, rows // 50)),
    }
    params["gate"] = gate_for(column_plan.task, sliced=bool(slices), evidence=evidence)
    params["release"] = {  # the demo's model-card text describes the demo data
        **template.get("release", {}),
        "intended_use": "Not stated yet: describe who should use this model, for what, and "
        "for what not (params.yaml, release.intended_use).",
        "limitations": [],
    }
    monitor = dict(template.get("monitor") or {})
    if "drift" in monitor:  # the demo's drift thresholds name its features; TFDV: no default
        monitor["drift"] = {**monitor["drift"], "thresholds": {}}
    if "degradation" in monitor:  # the demo's name classification metrics
        monitor["degradation"] = {
            **monitor["degradation"],
            "thresholds": dict(SUGGESTED_DEGRADATION[column_plan.task]),
        }
    if monitor:
        params["monitor"] = monitor
    return params


def gate_for(task: Task, *, sliced: bool, evidence: Evidence | None) -> dict[str, Any]:
    """The gate for new data: the demo's thresholds fit only the demo's data."""
    gate = suggested_thresholds(task, evidence)
    if not sliced:
        gate["slice_thresholds"] = {}  # no categorical feature to slice by
    return gate
