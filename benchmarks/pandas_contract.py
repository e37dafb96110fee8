"""The data contract's rules as plain vectorized pandas: the baseline pandera is compared with.

The rules are read from the same ``contracts/data.yaml`` that pandera loads (plain YAML, no
pandera), so the two implementations cannot drift apart silently when the contract changes.
Only the rule kinds that the contract uses are implemented; anything else raises
:class:`UnsupportedRule`, so the baseline never quietly checks less than pandera does.

Findings follow what ``tabpipe.core.contract.check`` reports: one finding per (column, check)
with the number of failing rows, a value check is not run on a column whose coercion failed
(but ``isin`` on integer codes, which pandera can still run value by value), and missing
values are ignored by ``isin`` and ``in_range`` (nullability is its own check).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

FLOAT_DTYPES = {"float64", "float"}
CODE_DTYPES = {"Int64"}  # init's integer codes (nullable integers)
BOOLEAN_DTYPES = {"boolean"}  # init's booleans (nullable; text is not coercible)
STRING_DTYPES = {"str", "string", "string[pyarrow]", "string[python]"}
# Text for people, not rules (init writes an ordered category's order as its description).
DOCUMENTATION = ("title", "description")
IGNORED_WHEN_DEFAULT = {
    "unique": False,
    "required": True,
    "regex": False,
    "default": None,
    "report_duplicates": "all",
    "drop_invalid_rows": False,
}


class UnsupportedRule(ValueError):
    """The contract uses a rule this baseline does not implement."""


@dataclass(frozen=True)
class ColumnRule:
    name: str
    dtype: str | None  # "float64", "str", "Int64", "boolean", or None: any (an excluded column)
    nullable: bool
    isin: tuple[str, ...] | None = None
    in_range: tuple[float, float, bool, bool] | None = None  # min, max, include_min, include_max
    max_null_fraction: float | None = None


@dataclass(frozen=True)
class Rules:
    columns: tuple[ColumnRule, ...]
    strict: bool
    min_rows: int | None = None
    max_duplicate_fraction: float | None = None  # share of rows repeating an earlier row


@dataclass(frozen=True, order=True)
class Finding:
    """One failed check: the column (None for the table), the check's kind, failing rows."""

    column: str | None
    check: str
    count: int


def in_order(findings: Iterable[Finding]) -> list[Finding]:
    """The table's findings (no column) first, then by column, check and count: None and a
    column name do not compare (a corrupted iris held a table finding, its repeated rows,
    beside a column's)."""
    return sorted(findings, key=lambda f: (f.column is not None, f.column or "", f.check, f.count))


def load_rules(path: Path) -> Rules:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    if spec.get("coerce") not in (None, False) or spec.get("ordered") not in (None, False):
        raise UnsupportedRule(f"{path}: dataframe-level coerce/ordered")
    if spec.get("index") is not None:
        raise UnsupportedRule(f"{path}: index checks")
    table_checks = dict(spec.get("checks") or {})
    min_rows = table_checks.pop("min_rows", None)
    duplicates = table_checks.pop("max_duplicate_fraction", None)  # init writes one
    if table_checks:
        raise UnsupportedRule(f"{path}: dataframe checks {sorted(table_checks)}")
    return Rules(
        columns=tuple(_column_rule(name, body or {}) for name, body in spec["columns"].items()),
        strict=spec.get("strict") is True,
        min_rows=None if min_rows is None else int(min_rows["min_value"]),
        max_duplicate_fraction=None if duplicates is None else float(duplicates["max_fraction"]),
    )


def _column_rule(name: str, body: dict[str, Any]) -> ColumnRule:
    body = {**body, **(body.pop("checks", None) or {})}
    declared = body.pop("dtype", None)
    dtype = None if declared is None else str(declared)
    if dtype is None:
        pass  # no dtype: pandera checks presence and nulls only (columns init excludes)
    elif dtype in FLOAT_DTYPES:
        dtype = "float64"
    elif dtype in STRING_DTYPES:
        dtype = "str"
    elif dtype in CODE_DTYPES or dtype in BOOLEAN_DTYPES:
        pass
    else:
        raise UnsupportedRule(f"column {name!r}: dtype {dtype!r}")
    if body.pop("coerce", False) is not True and dtype is not None:
        raise UnsupportedRule(f"column {name!r}: only coerce: true is implemented")
    nullable = bool(body.pop("nullable", False))
    isin = body.pop("isin", None)
    bounds = body.pop("in_range", None)
    null_fraction = body.pop("max_null_fraction", None)
    if null_fraction is not None and null_fraction.get("ignore_na", True) is not False:
        raise UnsupportedRule(f"column {name!r}: max_null_fraction needs ignore_na: false")
    for key in DOCUMENTATION:
        body.pop(key, None)
    for key, default in IGNORED_WHEN_DEFAULT.items():
        if body.pop(key, default) != default:
            raise UnsupportedRule(f"column {name!r}: {key}")
    if body:
        raise UnsupportedRule(f"column {name!r}: {sorted(body)}")
    return ColumnRule(
        name=name,
        dtype=dtype,
        nullable=nullable,
        isin=None if isin is None else tuple(str(v) for v in isin),
        in_range=None
        if bounds is None
        else (
            float(bounds["min_value"]),
            float(bounds["max_value"]),
            bool(bounds.get("include_min", True)),
            bool(bounds.get("include_max", True)),
        ),
        max_null_fraction=None if null_fraction is None else float(null_fraction["max_fraction"]),
    )


def _coerce(raw: pd.Series, dtype: str | None) -> tuple[pd.Series, int]:
    """The coerced column and how many non-null values could not be coerced."""
    if dtype is None:
        return raw, 0
    if dtype == "str":
        return raw.astype(str), 0
    if dtype == "boolean":
        booleans = raw.map(lambda v: isinstance(v, bool | np.bool_), na_action="ignore")
        bad = int((raw.notna() & ~booleans.fillna(False).astype(bool)).sum())
        return (raw.astype("boolean") if not bad else raw), bad
    if dtype == "Int64":
        numbers = pd.to_numeric(raw, errors="coerce")
        whole = numbers.isna() | (numbers == np.round(numbers))
        bad = int(((numbers.isna() & raw.notna()) | ~whole).sum())
        return (numbers.astype("Int64") if not bad else numbers), bad
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        return raw.astype(np.float64), 0
    coerced = pd.to_numeric(raw, errors="coerce").astype(np.float64)
    return coerced, int((coerced.isna() & raw.notna()).sum())


def _in_range(values: pd.Series, bounds: tuple[float, float, bool, bool]) -> pd.Series:
    low, high, include_low, include_high = bounds
    above = values >= low if include_low else values > low
    below = values <= high if include_high else values < high
    return above & below


def validate(frame: pd.DataFrame, rules: Rules) -> tuple[list[Finding], pd.DataFrame | None]:
    """Check every rule at once; return the findings and the coerced frame if there are none."""
    findings: list[Finding] = []
    declared = {rule.name for rule in rules.columns}
    if rules.strict:
        findings += [
            Finding(str(c), "unexpected column", 1) for c in frame.columns if c not in declared
        ]
    findings += [Finding(r.name, "missing column", 1) for r in rules.columns if r.name not in frame]
    coerced: dict[str, pd.Series] = {}
    for rule in rules.columns:
        if rule.name not in frame:
            continue
        raw = frame[rule.name]
        nulls = raw.isna()
        values, not_coercible = _coerce(raw, rule.dtype)
        if not_coercible:
            findings.append(Finding(rule.name, "coerce_dtype", not_coercible))
        if not rule.nullable and (missing := int(nulls.sum())):
            findings.append(Finding(rule.name, "not_nullable", missing))
        if not not_coercible:
            if rule.in_range is not None:
                bad = int((~_in_range(values, rule.in_range) & ~nulls).sum())
                if bad:
                    findings.append(Finding(rule.name, "in_range", bad))
            if rule.isin is not None:
                allowed = values.astype(str) if rule.dtype == "Int64" else values
                bad = int((~allowed.isin(rule.isin) & ~nulls).sum())
                if bad:
                    findings.append(Finding(rule.name, "isin", bad))
        elif rule.isin is not None and rule.dtype == "Int64":
            # pandera runs isin on the uncoerced codes row by row (a word is no listed code)
            # and core.contract keeps that finding; in_range on text cannot run, and is dropped.
            codes = [int(v) for v in rule.isin]
            bad = int((~raw.isin(codes) & ~nulls).sum())
            if bad:
                findings.append(Finding(rule.name, "isin", bad))
        if rule.max_null_fraction is not None and (
            len(raw) == 0 or float(nulls.mean()) > rule.max_null_fraction
        ):
            findings.append(Finding(rule.name, "max_null_fraction", 1))
        coerced[rule.name] = values
    if rules.min_rows is not None and len(frame) < rules.min_rows:
        findings.append(Finding(None, "min_rows", 1))
    repeated = int(frame.duplicated().sum())  # counted as core.contract counts them
    cap = rules.max_duplicate_fraction
    if cap is not None and len(frame) and repeated / len(frame) > cap:
        findings.append(Finding(None, "max_duplicate_fraction", repeated))
    if findings:
        return findings, None
    columns = {name: coerced.get(name, frame[name]) for name in frame.columns}
    return findings, pd.DataFrame(columns, index=frame.index, copy=False)
