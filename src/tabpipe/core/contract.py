"""The data contract: a pandera YAML schema file, checked as a file, then checked lazily.

The contract file (``contracts/data.yaml``) is pandera's own YAML format, so it can be
produced by ``pandera.infer_schema(...).to_yaml()`` and reviewed in pull requests. Three
checks that pandera lacks are registered here: ``min_rows`` (a dataframe-level floor on
the row count), ``max_duplicate_fraction`` (at most this share of rows may repeat an
earlier row exactly) and ``max_null_fraction`` (a column may be nullable, but not mostly
or entirely null).

pandera's reader drops what it does not know without a word: a misspelled check
(``in_rnage``), option or section would silently switch a rule off. :func:`load_contract`
first checks the file itself, every key against what pandera reads, and refuses it naming
each problem's line.
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera import extensions
from pandera.api.checks import Check
from pandera.io import pandas_io

from tabpipe.core import yamldoc

EXAMPLES_PER_FAILURE = 5
STRUCTURAL = {
    "unexpected column": "unexpected column (not in the contract, which is strict)",
    "missing column": "missing column (required by the contract)",
}

# What pandera's YAML reader (pandera.io.pandas_io.deserialize_schema and the column reader
# it calls) reads: any other key is dropped without a word, so here it is an error.
SCHEMA_KEYS = frozenset(
    {
        "schema_type", "version", "columns", "index", "checks", "dtype", "coerce", "strict",
        "name", "ordered", "unique", "report_duplicates", "unique_column_names",
        "add_missing_columns", "title", "description", "metadata", "drop_invalid_rows",
        "dataframe_library", "api", "multiindex",
    }
)  # fmt: skip
COLUMN_KEYS = frozenset(
    {
        "title", "description", "dtype", "checks", "name", "nullable", "unique", "coerce",
        "required", "regex", "default", "report_duplicates", "drop_invalid_rows",
    }
)  # fmt: skip
# Keys pandera treats as a check's options rather than its statistics.
CHECK_OPTIONS = frozenset(
    {"ignore_na", "raise_warning", "n_failure_cases", "groupby", "groups", "error", "name",
     "title", "description"}
)  # fmt: skip
CHECK_ALIASES = frozenset({"eq", "ne", "gt", "ge", "lt", "le", "between"})
BOOLEAN_COLUMN_KEYS = ("nullable", "unique", "coerce", "required", "regex", "drop_invalid_rows")
BOOLEAN_SCHEMA_KEYS = ("coerce", "ordered", "unique_column_names", "add_missing_columns")


@extensions.register_check_method(statistics=["min_value"], supported_types=pd.DataFrame)
def min_rows(frame: pd.DataFrame, *, min_value: int) -> bool:
    return len(frame) >= min_value


@extensions.register_check_method(statistics=["max_fraction"], supported_types=pd.DataFrame)
def max_duplicate_fraction(frame: pd.DataFrame, *, max_fraction: float) -> bool:
    return duplicate_share(frame) <= max_fraction


@extensions.register_check_method(statistics=["max_fraction"], supported_types=pd.Series)
def max_null_fraction(series: pd.Series, *, max_fraction: float) -> bool:
    return len(series) > 0 and float(series.isna().mean()) <= max_fraction


def duplicate_rows(frame: pd.DataFrame) -> pd.Series:
    """True for each row that repeats an earlier row exactly (every column equal)."""
    if frame.empty or frame.shape[1] == 0:
        return pd.Series(False, index=frame.index)
    return frame.duplicated(keep="first")


# The repeated rows that the max_duplicate_fraction check found in the frame pandera handed
# it, kept while :func:`check` runs (it sets a list here; elsewhere nothing is kept) so that
# its report counts them from the same pass: on 10M rows one pass of
# ``DataFrame.duplicated`` is 7-8 s, and validate made two.
_found_duplicates: ContextVar[list[pd.Series] | None] = ContextVar("found_duplicates", default=None)


def duplicate_share(frame: pd.DataFrame) -> float:
    repeated = duplicate_rows(frame)
    found = _found_duplicates.get()
    if found is not None:
        found.append(repeated)
    return float(repeated.mean()) if len(frame) else 0.0


def _duplicates_in(frame: pd.DataFrame) -> pd.Series:
    """:func:`duplicate_rows` of ``frame`` as the check found them during this :func:`check`
    (in the frame pandera validated: ``frame`` itself, or with ``inplace=False`` its coerced
    copy, the same rows in the same order); a pass of its own where the check did not run."""
    found = [repeated for repeated in _found_duplicates.get() or [] if len(repeated) == len(frame)]
    return found[-1] if found else duplicate_rows(frame)


class ContractError(Exception):
    """The contract file itself is missing or malformed."""


# --- the contract as a file ---------------------------------------------------------------


@cache
def check_names() -> frozenset[str]:
    """Every check a contract may name: pandera's built-in ones and those registered here."""
    builtin = {name for name in dir(Check) if not name.startswith("_") and _is_builtin(name)}
    return frozenset(builtin | set(Check.REGISTERED_CUSTOM_CHECKS) | CHECK_ALIASES)


def _is_builtin(name: str) -> bool:
    try:
        return bool(Check.is_builtin_check(name))
    except Exception:  # pandera's registry lookup raises for names it does not hold
        return False


@cache
def check_parameters(name: str) -> frozenset[str]:
    """The statistics a check takes by name (``min_value``, ``allowed_values``...)."""
    if name in Check.REGISTERED_CUSTOM_CHECKS:
        return frozenset((getattr(Check, name)().statistics or {}).keys())
    signature = inspect.signature(getattr(Check, name))
    return frozenset(
        p.name
        for p in signature.parameters.values()
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    )


def _problem(doc: yamldoc.Document, loc: tuple[Any, ...], text: str) -> str:
    return f"{doc.where(loc)}: {text}"


def _check_problems(
    doc: yamldoc.Document, loc: tuple[Any, ...], name: Any, stats: Any, owner: str
) -> list[str]:
    """Problems with one check ``name: stats`` of ``owner`` (a column, or the table)."""
    if not isinstance(name, str) or name not in check_names():
        choices = sorted(check_names())
        return [
            _problem(
                doc,
                loc,
                f"{owner}: unknown check {name!r}{yamldoc.suggestion(str(name), choices)}; "
                "pandera would ignore it and the rule would not be enforced",
            )
        ]
    if not isinstance(stats, Mapping):
        return []  # one value: the check's only statistic (isin: [...], eq: 3)
    known = check_parameters(name) | CHECK_OPTIONS | {"value", "options"}
    problems = []
    for key in stats:
        if key not in known:
            choices = sorted(check_parameters(name) | CHECK_OPTIONS)
            problems.append(
                _problem(
                    doc,
                    (*loc, key),
                    f"{owner}: check {name} has no setting {key!r}"
                    f"{yamldoc.suggestion(str(key), choices)}; it takes "
                    f"{', '.join(sorted(check_parameters(name))) or 'one value'}",
                )
            )
    return problems


def _listed_checks(
    doc: yamldoc.Document, loc: tuple[Any, ...], checks: Any, owner: str
) -> list[str]:
    """Problems with a ``checks:`` entry: ``{name: stats}`` or pandera's list form."""
    if checks is None:
        return []
    if isinstance(checks, Mapping):
        return [
            p
            for name, stats in checks.items()
            for p in _check_problems(doc, (*loc, name), name, stats, owner)
        ]
    if not isinstance(checks, list):
        return [_problem(doc, loc, f"{owner}: checks must be a mapping of check name to settings")]
    problems = []
    for index, entry in enumerate(checks):
        options = entry.get("options") if isinstance(entry, Mapping) else None
        name = options.get("check_name") if isinstance(options, Mapping) else None
        if name is None or not isinstance(options, Mapping):
            problems.append(
                _problem(doc, (*loc, index), f"{owner}: a listed check needs options.check_name")
            )
            continue
        stats = {k: v for k, v in entry.items() if k != "options"}
        problems += _check_problems(doc, (*loc, index), name, {**stats, **options}, owner)
    return problems


def _column_problems(doc: yamldoc.Document, name: str, spec: Any) -> list[str]:
    loc: tuple[Any, ...] = ("columns", name)
    owner = f"column {name!r}"
    if not isinstance(spec, Mapping):
        return [_problem(doc, loc, f"{owner}: expected its settings (dtype, nullable, checks)")]
    problems = []
    for key, value in spec.items():
        if key == "checks":
            problems += _listed_checks(doc, (*loc, key), value, owner)
        elif key in BOOLEAN_COLUMN_KEYS and not isinstance(value, bool):
            problems.append(
                _problem(doc, (*loc, key), f"{owner}: {key} must be true or false, not {value!r}")
            )
        elif key in COLUMN_KEYS:
            continue
        elif isinstance(key, str) and key in check_names():
            problems += _check_problems(doc, (*loc, key), key, value, owner)
        else:
            choices = sorted(COLUMN_KEYS | check_names())
            problems.append(
                _problem(
                    doc,
                    (*loc, key),
                    f"{owner}: unknown key {key!r}{yamldoc.suggestion(str(key), choices)}; a "
                    "column takes dtype, nullable, coerce, unique, required, description, "
                    "checks, or a check's name (in_range, isin, ...)",
                )
            )
    if not problems:  # what pandera itself refuses (an unknown dtype, a missing statistic)
        try:
            pandas_io.deserialize_schema({"columns": {name: copy.deepcopy(dict(spec))}})
        except Exception as exc:  # pandera raises assorted types for a bad column
            reason = _pandera_reason(exc)
            where = (*loc, "dtype") if "data type" in reason and "dtype" in spec else loc
            problems.append(_problem(doc, where, f"{owner}: {reason}"))
    return problems


def _pandera_reason(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def contract_problems(doc: yamldoc.Document) -> list[str]:
    """Everything wrong with a contract file as a file, each naming its line."""
    data = doc.data
    if data is None or data == {}:
        return [f"{doc.path}: the contract is empty: it must declare the table's columns"]
    if not isinstance(data, Mapping):
        return [f"{doc.path}: a contract is a mapping (schema_type, columns, checks...), "
                f"not a {type(data).__name__}"]  # fmt: skip
    problems = []
    for key, value in data.items():
        if key not in SCHEMA_KEYS:
            problems.append(
                _problem(
                    doc,
                    (key,),
                    f"unknown section {key!r}{yamldoc.suggestion(str(key), SCHEMA_KEYS)}; "
                    f"a contract has {', '.join(sorted(SCHEMA_KEYS))}",
                )
            )
        elif key in BOOLEAN_SCHEMA_KEYS and not isinstance(value, bool):
            problems.append(_problem(doc, (key,), f"{key} must be true or false, not {value!r}"))
        elif key == "strict" and value not in (True, False, "filter"):
            problems.append(
                _problem(doc, (key,), f"strict must be true, false or filter: {value!r}")
            )
    if data.get("schema_type", "dataframe") != "dataframe":
        problems.append(_problem(doc, ("schema_type",), "schema_type must be dataframe"))
    columns = data.get("columns")
    if not isinstance(columns, Mapping) or not columns:
        problems.append(_problem(doc, ("columns",), "the contract declares no columns"))
    else:
        for name, spec in columns.items():
            problems += _column_problems(doc, str(name), spec)
    problems += _listed_checks(doc, ("checks",), data.get("checks"), "table")
    return sorted(problems, key=_line_of)


def _line_of(problem: str) -> int:
    found = re.match(r"[^:]*:(\d+):", problem)
    return int(found.group(1)) if found else 0


def load_contract(path: Path) -> pa.DataFrameSchema:
    """The contract as a pandera schema, after checking the file key by key."""
    try:
        doc = yamldoc.load(path)
    except yamldoc.YamlFileError as exc:
        raise ContractError(f"{exc}" if "not found" not in str(exc) else
                            f"{path}: contract file not found") from None  # fmt: skip
    problems = contract_problems(doc)
    if problems:
        raise ContractError(
            f"{path}: {len(problems)} problem(s) in the contract file:\n  - "
            + "\n  - ".join(problems)
        )
    try:
        schema = pandas_io.deserialize_schema(copy.deepcopy(doc.data))
    except Exception as exc:  # pandera raises assorted errors for a malformed file
        raise ContractError(f"{path}: not a valid pandera YAML schema: {exc}") from exc
    if not schema.columns:
        raise ContractError(f"{path}: the contract declares no columns")
    return schema


def without_columns(schema: pa.DataFrameSchema, names: list[str]) -> pa.DataFrameSchema:
    """The contract minus some columns (e.g. the label, for unlabelled serving data)."""
    return schema.remove_columns([n for n in names if n in schema.columns])


# --- checking a table -----------------------------------------------------------------------


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
    duplicate_rows: int = 0  # rows that repeat an earlier row exactly

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
            failures, int(data.get("duplicate_rows") or 0),
        )  # fmt: skip

    def _duplicates(self) -> str:
        if not self.duplicate_rows:
            return "no duplicate rows"
        share = self.duplicate_rows / self.rows if self.rows else 0.0
        return f"{self.duplicate_rows} duplicate row(s) ({share:.2%}) repeat an earlier row"

    def summary(self) -> str:
        head = f"{self.source}: {self.rows} rows x {self.columns} columns, contract {self.contract}"
        if self.ok:
            return f"PASS {head}: every check passed; {self._duplicates()}."
        lines = [f"FAIL {head}: {len(self.failures)} problem(s); {self._duplicates()}."]
        lines += [f"  - {failure.describe()}" for failure in self.failures]
        return "\n".join(lines)

    def markdown(self, heading: str = "##") -> str:
        """The result as Markdown: reports/validation.md and the PR report's section."""
        verdict = "✅ passed" if self.ok else f"❌ failed with {len(self.failures)} problem(s)"
        lines = [
            f"{heading} Data validation",
            "",
            f"`{self.source}` ({self.rows} rows, {self.columns} columns) against "
            f"`{self.contract}`: **{verdict}**; {self._duplicates()}.",
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
    frame: pd.DataFrame,
    schema: pa.DataFrameSchema,
    *,
    source: str,
    contract: str,
    inplace: bool = False,
) -> tuple[ValidationReport, pd.DataFrame | None]:
    """Validate every rule at once (lazy); return the report and the coerced frame if valid.

    Rows are reported by position (row index 0 is the first data row), whatever index the
    frame came with. ``inplace`` coerces the frame itself instead of a copy (pandera's
    default), for a caller that does not use the frame it read again: a copy of 10M rows
    costs a second and a GiB.
    """
    frame = frame.reset_index(drop=True)
    shape = (source, contract, len(frame), frame.shape[1])
    found = _found_duplicates.set([])
    try:
        validated = schema.validate(frame, lazy=True, inplace=inplace)
    except pa.errors.SchemaErrors as errors:
        failures = _failures(errors.failure_cases, frame)
        return ValidationReport(*shape, failures, int(_duplicates_in(frame).sum())), None
    else:
        return ValidationReport(*shape, [], int(_duplicates_in(validated).sum())), validated
    finally:
        _found_duplicates.reset(found)


def _positions(index: pd.Series) -> list[int]:
    rows = []
    for value in index.dropna().head(EXAMPLES_PER_FAILURE):
        try:
            rows.append(int(value))
        except (TypeError, ValueError):
            continue  # not a row position (pandera names a column or a check here)
    return rows


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
        if check_name.startswith("max_duplicate_fraction"):
            repeated = _duplicates_in(frame)
            count = int(repeated.sum())
            rows = [int(i) for i in repeated[repeated].index[:EXAMPLES_PER_FAILURE]]
            told = f"{count} of {len(frame)} rows ({count / max(len(frame), 1):.1%})"
            failures.append(
                Failure(column, check_name, count, [f"{told} repeat an earlier row"], rows)
            )
            continue
        if check_name.startswith("max_null_fraction") and column in frame.columns:
            share = float(frame[column].isna().mean())
            failures.append(Failure(column, check_name, 1, [f"{share:.0%} of values are null"]))
            continue
        rows = _positions(group["index"])
        examples = [
            _show(v)
            for v in pd.unique(values.astype(object)).tolist()[:EXAMPLES_PER_FAILURE]
            if column is not None
        ]
        failures.append(Failure(column, check_name, len(group), examples, rows))
    return failures


def _show(value: Any) -> str:
    return "NaN" if isinstance(value, float) and pd.isna(value) else repr(value)[:80]
