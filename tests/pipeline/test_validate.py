"""Stage validate: the data contract rejects each kind of bad input, all at once, readably.

Each case corrupts the project's raw data the way real files go wrong and checks that
validation fails, that the summary names the column, the check and an example value,
and that nothing is handed downstream (no build/validated.parquet). The columns to
corrupt are read from params.yaml and the contract, so the cases hold for any dataset.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from tabpipe.core.config import Params, load_params
from tabpipe.core.contract import check, load_contract
from tabpipe.core.io import read_table
from tabpipe.core.paths import PATHS
from tabpipe.pipeline.validate import main, validate_raw
from tests.conftest import ROOT
from tests.support.factories import (
    BOOLEAN_DTYPES,
    CODE_DTYPES,
    TEXT_DTYPES,
    check_statistics,
    enumerated_column,
    feature_of_dtype,
    min_rows,
    ranged_numeric,
)

Corruption = Callable[[Path], None]


def corrupt_frame(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Corruption:
    def apply(path: Path) -> None:
        changed = change(read_table(path))
        if path.suffix == ".csv":
            changed.to_csv(path, index=False)
        else:
            parquet_safe(changed).to_parquet(path, index=False)

    return apply


def corrupt_text(change: Callable[[str], str]) -> Corruption:
    def apply(path: Path) -> None:
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")

    return apply


def with_header_renamed(text: str, old: str, new: str) -> str:
    """The CSV text with column ``old`` named ``new`` in its header, however the header is
    quoted (statsmodels' star98 quotes every name: a plain text replace missed it)."""
    header, newline, body = text.partition("\n")
    names = next(csv.reader([header.rstrip("\r")]))
    assert old in names, f"{old!r} is not in the header {names}"
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([new if n == old else n for n in names])
    return out.getvalue() + newline + body


def parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet cannot store a column mixing numbers and text (a CSV can): write such a
    column as text, as a file with a stray string in an integer column would hold it."""
    for name in frame.columns:
        values = frame[name]
        if values.dtype == object and values.dropna().map(type).nunique() > 1:
            frame[name] = values.map(lambda v: v if pd.isna(v) else str(v))
    return frame


def assign(
    column: str, rows: slice | list[int], value: object
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(object)
        frame.loc[rows, column] = value
        return frame

    return change


def cases(params: Params, schema: pa.DataFrameSchema) -> dict[str, tuple[Corruption, list[str]]]:
    numeric, too_big = ranged_numeric(params, schema)
    enumerated = enumerated_column(params, schema)
    text_category = feature_of_dtype(params, schema, TEXT_DTYPES)
    code = feature_of_dtype(params, schema, CODE_DTYPES)
    boolean = feature_of_dtype(params, schema, BOOLEAN_DTYPES)
    required = next((n for n in params.features.all if not schema.columns[n].nullable), None)
    capped = (n for n in params.features.all if check_statistics(schema, n, "max_null_fraction"))
    nullable = next(capped, required)
    target, floor = params.data.target, min_rows(schema)
    first, second = list(schema.columns)[:2]
    dropped = params.features.all[0]
    found = {
        "missing column": (
            corrupt_frame(lambda f: f.drop(columns=[dropped])),
            [repr(dropped), "missing column"],
        ),
        "extra column": (
            corrupt_frame(lambda f: f.assign(customer_id=range(len(f)))),
            ["'customer_id'", "unexpected column"],
        ),
        "strings in a numeric column": (
            corrupt_frame(assign(numeric, [3, 8], "twelve")),
            [repr(numeric), "coerce_dtype('float64')", "'twelve'", "row index 3, 8"],
        ),
        "out-of-range value": (
            corrupt_frame(assign(numeric, [5], too_big)),
            [repr(numeric), "in_range", "row index 5"],
        ),
        "NaN label": (
            corrupt_frame(assign(target, [10], np.nan)),
            [repr(target), "not_nullable", "row index 10"],
        ),
        "infinite value": (
            corrupt_frame(assign(numeric, [4], np.inf)),
            [repr(numeric), "in_range", "inf"],
        ),
        "empty file": (corrupt_text(lambda text: ""), ["readable_table", "empty"]),
        "duplicated header row (two files concatenated)": (
            corrupt_text(lambda text: text + text),
            [repr(numeric), "coerce_dtype('float64')"],
        ),
        "duplicated column names": (
            corrupt_text(lambda text: with_header_renamed(text, second, first)),
            ["readable_table", "duplicated column names", first],
        ),
        "wrong delimiter": (
            corrupt_text(lambda text: text.replace(",", ";")),
            ["readable_table", "semicolons"],
        ),
        "all-null column": (
            corrupt_frame(assign(nullable, slice(None), np.nan)),
            [repr(nullable), "null"],
        ),
        "fewer rows than the minimum": (
            corrupt_frame(lambda f: f.head(max(floor // 2, 1))),
            [f"min_rows(min_value={floor})", f"{max(floor // 2, 1)} rows"],
        ),
        "the whole table given twice (duplicate rows)": (
            corrupt_frame(lambda f: pd.concat([f, f], ignore_index=True)),
            ["max_duplicate_fraction", "repeat an earlier row"],
        ),
        "a trailing comma on every data row": (
            corrupt_text(
                lambda text: "\n".join(
                    line + ("," if i and line else "") for i, line in enumerate(text.split("\n"))
                )
            ),
            ["readable_table", "the header has", "a trailing comma?"],
        ),
    }
    if required is not None:
        found["NaN in a non-nullable feature"] = (
            corrupt_frame(assign(required, [2], np.nan)),
            [repr(required), "not_nullable", "row index 2"],
        )
    if text_category is not None:
        found["wrong dtype (numbers in a categorical column)"] = (
            corrupt_frame(lambda f: f.assign(**{text_category: np.arange(len(f)) % 2 + 10_000})),
            [repr(text_category), "isin", "'10000'"],
        )
    if enumerated is not None:  # data with no categorical feature and a numeric label has none
        category, _ = enumerated
        found["unknown category"] = (
            corrupt_frame(assign(category, [0, 1], "castle-in-the-air")),
            [repr(category), "castle-in-the-air"],
        )
    if code is not None:
        allowed = check_statistics(schema, code, "isin") or {"allowed_values": [0]}
        unknown_code = max(int(v) for v in allowed["allowed_values"]) + 1
        found["unknown integer code"] = (
            corrupt_frame(assign(code, [0, 1], unknown_code)),
            [repr(code), "isin", str(unknown_code)],
        )
    if boolean is not None:
        found["text in a boolean column"] = (  # a CSV reader parses "True", not "maybe"
            corrupt_frame(assign(boolean, [0, 1], "maybe")),
            [repr(boolean), "coerce_dtype('boolean')", "'maybe'"],
        )
    return found


TEXT_CASES = [
    "empty file",
    "duplicated header row (two files concatenated)",
    "duplicated column names",
    "wrong delimiter",
    "a trailing comma on every data row",
]
FRAME_CASES = [
    "missing column",
    "extra column",
    "wrong dtype (numbers in a categorical column)",
    "strings in a numeric column",
    "out-of-range value",
    "unknown category",
    "NaN label",
    "NaN in a non-nullable feature",
    "infinite value",
    "all-null column",
    "fewer rows than the minimum",
    "the whole table given twice (duplicate rows)",
]
# Cases for column kinds the bundled data lacks (booleans, integer codes) run on the project
# data when it has such a column, and always on a table init onboards (below).
KIND_CASES = ["unknown integer code", "text in a boolean column"]
# Which data property a case needs: a case the data cannot have is reported as skipped,
# naming that property, so the case count is visible in every project's test output.
NEEDS = {
    **dict.fromkeys(
        TEXT_CASES, "a CSV raw file (text-level corruptions are how CSV files go wrong)"
    ),
    "wrong dtype (numbers in a categorical column)": "a text categorical feature",
    "unknown category": "an enumerated column (a categorical feature or a class label)",
    "unknown integer code": "an integer-code feature",
    "text in a boolean column": "a boolean feature",
    "NaN in a non-nullable feature": "a feature the contract makes non-nullable",
}
PROJECT_PARAMS = load_params(ROOT / "params.yaml")
PROJECT_CONTRACT = load_contract(ROOT / PROJECT_PARAMS.data.contract)
CASE_NAMES = FRAME_CASES + TEXT_CASES
CASE_NAMES += [c for c in KIND_CASES if c in cases(PROJECT_PARAMS, PROJECT_CONTRACT)]


def applicable(params: Params, schema: pa.DataFrameSchema, case: str) -> bool:
    if case in TEXT_CASES:
        return params.data.raw.suffix.lower() == ".csv"
    return case in cases(params, schema)


def test_the_bundled_data_exercises_every_case():
    # The template's own data must run all of them but the kinds it lacks (no boolean or
    # integer-code feature); only onboarded data may drop others, and says which.
    if PROJECT_PARAMS.data.raw.name == "credit.csv":
        runs = {c for c in CASE_NAMES if applicable(PROJECT_PARAMS, PROJECT_CONTRACT, c)}
        assert runs == set(FRAME_CASES) | set(TEXT_CASES)


@pytest.mark.parametrize("case", CASE_NAMES)
def test_each_kind_of_bad_input_is_rejected_with_a_message_naming_it(project, contract, case):
    params = load_params()
    if not applicable(params, contract, case):
        pytest.skip(f"not applicable: this case needs {NEEDS[case]}")
    corrupt, fragments = cases(params, contract)[case]
    corrupt(params.data.raw)
    report = validate_raw(params)
    assert not report.ok
    summary = report.summary()
    for fragment in fragments:
        assert fragment in summary, f"{fragment!r} missing from:\n{summary}"
    assert not PATHS.validated.exists(), "invalid data must not reach the next stage"
    assert PATHS.validation_report.exists() and PATHS.validation_summary.exists()


def test_the_project_data_passes_and_is_handed_on_with_contract_types(project, raw):
    params = load_params()
    report = validate_raw(params)
    assert report.ok, report.summary()
    validated = pd.read_parquet(PATHS.validated)
    for name in params.features.numeric:
        assert validated[name].dtype == np.float64
    assert len(validated) == report.rows == len(raw)


def test_every_problem_is_reported_in_one_run(project, contract):
    params = load_params()
    numeric, too_big = ranged_numeric(params, contract)
    enumerated = enumerated_column(params, contract)
    category = None if enumerated is None else enumerated[0]
    dropped = next(n for n in params.features.all if n not in {numeric, category})

    def break_three_rules(frame: pd.DataFrame) -> pd.DataFrame:
        frame = assign(numeric, [1], too_big)(frame).drop(columns=[dropped])
        return frame if category is None else assign(category, [0], "castle")(frame)

    corrupt_frame(break_three_rules)(params.data.raw)
    report = validate_raw(params)
    expected = {(numeric, "in_range"), (dropped, "missing column")}
    if category is not None:
        expected.add((category, "isin"))
    assert {(f.column, f.check.split("(")[0]) for f in report.failures} >= expected


def test_the_stage_exits_non_zero_and_prints_the_summary(project, contract, capsys):
    params = load_params()
    numeric, too_big = ranged_numeric(params, contract)
    corrupt_frame(assign(numeric, [5], too_big))(params.data.raw)
    assert main([]) == 1
    captured = capsys.readouterr()
    assert f"column '{numeric}': check in_range" in captured.out
    assert "breaks the data contract" in captured.err


def test_params_naming_a_column_the_contract_lacks_is_an_error(project, capsys):
    params_file = Path("params.yaml")
    text = params_file.read_text()
    assert "  numeric: [" in text
    params_file.write_text(text.replace("  numeric: [", "  numeric: [NotAColumn, ", 1))
    assert main([]) == 1
    assert "NotAColumn" in capsys.readouterr().err


@pytest.mark.parametrize("case", KIND_CASES)
def test_booleans_and_integer_codes_break_the_contract_readably(tmp_path, monkeypatch, case):
    """On a table with every column kind, as init onboards it (whatever the project's data)."""
    from tests.support.factories import kinds_table, onboarded

    frame, params, schema = onboarded(kinds_table(), "y")
    monkeypatch.chdir(tmp_path)
    raw = tmp_path / "table.parquet"
    frame.to_parquet(raw, index=False)
    corrupt, fragments = cases(params, schema)[case]
    corrupt(raw)
    report, _ = check(read_table(raw), schema, source="table", contract="inferred")
    summary = report.summary()
    assert not report.ok
    for fragment in fragments:
        assert fragment in summary, f"{fragment!r} missing from:\n{summary}"


def test_duplicate_rows_are_counted_in_the_report(project, raw):
    params = load_params()
    expected = int(raw.duplicated().sum())
    report = validate_raw(params)
    assert report.duplicate_rows == expected
    assert report.to_dict()["duplicate_rows"] == expected
    assert "duplicate row" in report.markdown()


def test_an_unreadable_file_is_named_not_called_a_contract_breach(project, capsys):
    params = load_params()
    params.data.raw.unlink()
    params.data.raw.mkdir()
    assert main([]) == 1
    err = capsys.readouterr().err
    assert "is a folder, not a file" in err and "breaks the data contract" not in err
