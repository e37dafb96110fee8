"""Stage validate: the data contract rejects each kind of bad input, all at once, readably.

Each case corrupts the bundled data/credit.csv the way real files go wrong and checks
that validation fails, that the summary names the column, the check and an example
value, and that nothing is handed downstream (no build/validated.parquet).
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tabpipe.config import PATHS, load_params
from tabpipe.validate import main, validate_raw

RAW = Path("data/credit.csv")


def corrupt_frame(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        change(pd.read_csv(path)).to_csv(path, index=False)

    return apply


def corrupt_text(change: Callable[[str], str]) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        path.write_text(change(path.read_text()))

    return apply


def assign(
    column: str, rows: slice | list[int], value: object
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(object)
        frame.loc[rows, column] = value
        return frame

    return change


CASES = {
    "missing column": (
        corrupt_frame(lambda f: f.drop(columns=["Job"])),
        ["'Job'", "missing column"],
    ),
    "extra column": (
        corrupt_frame(lambda f: f.assign(customer_id=range(len(f)))),
        ["'customer_id'", "unexpected column"],
    ),
    "wrong dtype (numbers in a categorical column)": (
        corrupt_frame(lambda f: f.assign(Records=(f.Records == "yes").astype(int))),
        ["'Records'", "isin", "'0'"],
    ),
    "strings in a numeric column": (
        corrupt_frame(assign("Income", [3, 8], "twelve")),
        ["'Income'", "coerce_dtype('float64')", "'twelve'", "row index 3, 8"],
    ),
    "out-of-range value": (
        corrupt_frame(assign("Age", [5], 150)),
        ["'Age'", "in_range(18, 100)", "150"],
    ),
    "unknown category": (
        corrupt_frame(assign("Home", [0, 1], "castle")),
        ["'Home'", "isin", "'castle'"],
    ),
    "NaN label": (
        corrupt_frame(assign("Status", [10], np.nan)),
        ["'Status'", "not_nullable", "row index 10"],
    ),
    "NaN in a non-nullable feature": (
        corrupt_frame(assign("Age", [2], np.nan)),
        ["'Age'", "not_nullable"],
    ),
    "infinite value": (
        corrupt_frame(assign("Assets", [4], np.inf)),
        ["'Assets'", "in_range", "inf"],
    ),
    "empty file": (
        corrupt_text(lambda text: ""),
        ["readable_table", "empty"],
    ),
    "duplicated header row (two files concatenated)": (
        corrupt_text(lambda text: text + text),
        ["'Seniority'", "coerce_dtype('float64')", "'Seniority'"],
    ),
    "duplicated column names": (
        corrupt_text(lambda text: text.replace("Status,Seniority", "Status,Status", 1)),
        ["readable_table", "duplicated column names", "Status"],
    ),
    "wrong delimiter": (
        corrupt_text(lambda text: text.replace(",", ";")),
        ["readable_table", "semicolons"],
    ),
    "all-null column": (
        corrupt_frame(assign("Debt", slice(None), np.nan)),
        ["'Debt'", "max_null_fraction", "100% of values are null"],
    ),
    "fewer rows than the minimum": (
        corrupt_frame(lambda f: f.head(100)),
        ["min_rows(min_value=1000)", "100 rows"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_kind_of_bad_input_is_rejected_with_a_message_naming_it(project, case):
    corrupt, fragments = CASES[case]
    corrupt(RAW)
    report = validate_raw(load_params())
    assert not report.ok
    summary = report.summary()
    for fragment in fragments:
        assert fragment in summary, f"{fragment!r} missing from:\n{summary}"
    assert not PATHS.validated.exists(), "invalid data must not reach the next stage"
    assert PATHS.validation_report.exists() and PATHS.validation_summary.exists()


def test_the_bundled_data_passes_and_is_handed_on_with_contract_types(project):
    report = validate_raw(load_params())
    assert report.ok, report.summary()
    validated = pd.read_parquet(PATHS.validated)
    assert validated["Age"].dtype == np.float64
    assert len(validated) == report.rows == 4454


def test_every_problem_is_reported_in_one_run(project):
    corrupt_frame(
        lambda f: assign("Home", [0], "castle")(assign("Age", [1], 500)(f)).drop(columns=["Job"])
    )(RAW)
    report = validate_raw(load_params())
    assert {(f.column, f.check.split("(")[0]) for f in report.failures} >= {
        ("Home", "isin"),
        ("Age", "in_range"),
        ("Job", "missing column"),
    }


def test_the_stage_exits_non_zero_and_prints_the_summary(project, capsys):
    corrupt_frame(assign("Age", [5], 150))(RAW)
    assert main([]) == 1
    captured = capsys.readouterr()
    assert "in_range(18, 100)" in captured.out
    assert "breaks the data contract" in captured.err


def test_params_naming_a_column_the_contract_lacks_is_an_error(project, capsys):
    params_file = Path("params.yaml")
    params_file.write_text(params_file.read_text().replace("Price]", "Price, Salary]"))
    assert main([]) == 1
    assert "Salary" in capsys.readouterr().err
