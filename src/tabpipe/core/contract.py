"""The data contract: a pandera YAML schema file, checked lazily, reported readably.

The contract file (``contracts/data.yaml``) is pandera's own YAML format, so it can be
produced by ``pandera.infer_schema(...).to_yaml()`` and reviewed in pull requests. Two
checks that pandera lacks are registered here: ``min_rows`` (a dataframe-level floor on
the row count) and ``max_null_fraction`` (a column may be nullable, but not mostly or
entirely null).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera import extensions

EXAMPLES_PER_FAILURE = 5
STRUCTURAL = {
    "unexpected column": "unexpected column (not in the contract, which is strict)",
    "missing column": "missing column (required by the contract)",
}


@extensions.register_check_method(statistics=["min_value"], supported_types=pd.DataFrame)
def min_rows(frame: pd.DataFrame, *, min_value: int) -> bool:
    return len(frame) >= min_value


@extensions.register_check_method(statistics=["max_fraction"], supported_types=pd.Series)
def max_null_fraction(series: pd.Series, *, max_fraction: float) -> bool:
    return len(series) > 0 and float(series.isna().mean()) <= max_fraction


class ContractError(Exception):
    """The contract file itself is missing or malformed."""


def load_contract(path: Path) -> pa.DataFrameSchema:
    if not path.exists():
        raise ContractError(f"{path}: contract file not found")
    try:
        schema = pa.DataFrameSchema.from_yaml(path)
    except Exception as exc:  # pandera raises assorted errors for a malformed file
        raise ContractError(f"{path}: not a valid pandera YAML schema: {exc}") from exc
    if not schema.columns:
        raise ContractError(f"{path}: the contract declares no columns")
    return schema


def without_columns(schema: pa.DataFrameSchema, names: list[str]) -> pa.DataFrameSchema:
    """The contract minus some columns (e.g. the label, for unlabelled serving data)."""
    return schema.remove_columns([n for n in names if n in schema.columns])


@dataclass(frozen=True)
class Failure:
    """One check that failed: where, which check, how often, and example values."""

    column: str | None
    check: str
    count: int
    examples: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)

    def describe(self) -> str:
        where = f"column {self.column!r}" if self.column else "table"
        if self.check in STRUCTURAL:
            return f"{where}: {STRUCTURAL[self.check]}"
        text = f"{where}: check {self.check} failed"
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows)
            more = "" if self.count <= len(self.rows) else ", ..."
            text += f" on {self.count} row(s) (row index {shown}{more})"
        if self.examples:
            text += f"; e.g. {', '.join(self.examples)}"
        return text


@dataclass(frozen=True)
class ValidationReport:
    source: str
    contract: str
    rows: int
    columns: int
    failures: list[Failure]

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationReport:
        """Read back what :meth:`to_dict` wrote (``reports/validation.json``)."""
        failures = [
            Failure(
                column=f.get("column"),
                check=str(f["check"]),
                count=int(f["count"]),
                examples=[str(x) for x in f.get("examples") or []],
                rows=[int(r) for r in f.get("rows") or []],
            )
            for f in data.get("failures") or []
        ]
        return cls(
            str(data["source"]), str(data["contract"]), int(data["rows"]), int(data["columns"]),
            failures,
        )  # fmt: skip

    def summary(self) -> str:
        head = f"{self.source}: {self.rows} rows x {self.columns} columns, contract {self.contract}"
        if self.ok:
            return f"PASS {head}: every check passed."
        lines = [f"FAIL {head}: {len(self.failures)} problem(s)."]
        lines += [f"  - {failure.describe()}" for failure in self.failures]
        return "\n".join(lines)

    def markdown(self, heading: str = "##") -> str:
        """The result as Markdown: reports/validation.md and the PR report's section."""
        verdict = "✅ passed" if self.ok else f"❌ failed with {len(self.failures)} problem(s)"
        lines = [
            f"{heading} Data validation",
            "",
            f"`{self.source}` ({self.rows} rows, {self.columns} columns) against "
            f"`{self.contract}`: **{verdict}**.",
        ]
        if self.failures:
            lines += ["", "| column | check | failing rows | examples |", "|---|---|---:|---|"]
            for f in self.failures:
                examples = ", ".join(f"`{_cell(e)}`" for e in f.examples[:5])
                column = _cell(f.column or "(table)")
                lines.append(f"| {column} | `{_cell(f.check)}` | {f.count} | {examples} |")
        return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: no pipes, no line breaks, not too long."""
    flat = " ".join(str(text).split()).replace("|", "\\|").replace("`", "'")
    return flat if len(flat) <= 120 else flat[:117] + "..."


def unreadable(source: str, contract: str, reason: str) -> ValidationReport:
    """A report for a file that could not even be read as a table."""
    return ValidationReport(source, contract, 0, 0, [Failure(None, "readable_table", 1, [reason])])


def check(
    frame: pd.DataFrame, schema: pa.DataFrameSchema, *, source: str, contract: str
) -> tuple[ValidationReport, pd.DataFrame | None]:
    """Validate every rule at once (lazy); return the report and the coerced frame if valid."""
    try:
        validated = schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        failures = _failures(errors.failure_cases, frame)
        return ValidationReport(source, contract, len(frame), frame.shape[1], failures), None
    return ValidationReport(source, contract, len(frame), frame.shape[1], []), validated


def _failures(cases: pd.DataFrame, frame: pd.DataFrame) -> list[Failure]:
    cases = cases.copy()
    cases["column"] = cases["column"].where(cases["schema_context"] != "DataFrameSchema", None)
    coerce_failed = set(
        cases.loc[cases["check"].astype(str).str.startswith("coerce_dtype"), "column"]
    )
    failures = []
    for (column, check_name), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        column = None if pd.isna(column) else str(column)
        check_name = str(check_name)
        if check_name.startswith("dtype(") and column in coerce_failed:
            continue  # the coerce_dtype failure already names the values
        values = group["failure_case"]
        if column in coerce_failed and group["index"].isna().all():
            continue  # a value check that could not run on uncoerced strings: noise
        if column is None and check_name in {"column_in_schema", "column_in_dataframe"}:
            for value in values:
                kind = "unexpected column" if check_name == "column_in_schema" else "missing column"
                failures.append(Failure(str(value), kind, 1))
            continue
        if check_name.startswith("min_rows"):
            failures.append(Failure(column, check_name, 1, [f"{len(frame)} rows"]))
            continue
        if check_name.startswith("max_null_fraction") and column in frame.columns:
            share = float(frame[column].isna().mean())
            failures.append(Failure(column, check_name, 1, [f"{share:.0%} of values are null"]))
            continue
        rows = [int(i) for i in group["index"].dropna().head(EXAMPLES_PER_FAILURE)]
        examples = [
            _show(v)
            for v in pd.unique(values.astype(object)).tolist()[:EXAMPLES_PER_FAILURE]
            if column is not None
        ]
        failures.append(Failure(column, check_name, len(group), examples, rows))
    return failures


def _show(value: Any) -> str:
    return "NaN" if isinstance(value, float) and pd.isna(value) else repr(value)[:80]
