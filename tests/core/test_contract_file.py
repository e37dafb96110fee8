"""The contract is checked as a file: what pandera would silently drop is an error with its line.

pandera's YAML reader ignores keys it does not know, so a misspelled check (``in_rnage``)
used to switch the rule off without a word; these tests fail on that reader alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tabpipe.core.contract import ContractError, check_names, load_contract

BASE = """\
schema_type: dataframe
version: 0.35.0
columns:
  age:
    dtype: float64
    nullable: false
    coerce: true
    in_range: {min_value: 0, max_value: 120}
  kind:
    dtype: str
    nullable: true
    isin: [a, b]
checks:
  min_rows: {min_value: 2}
strict: true
"""


def refused(tmp_path: Path, text: str) -> str:
    path = tmp_path / "contract.yaml"
    path.write_text(text)
    with pytest.raises(ContractError) as caught:
        load_contract(path)
    return str(caught.value)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_base_contract_and_the_projects_own_load(tmp_path, root, params):
    (tmp_path / "ok.yaml").write_text(BASE)
    schema = load_contract(tmp_path / "ok.yaml")
    assert [c.name for c in schema.columns["age"].checks] == ["in_range"]
    assert load_contract(root / params.data.contract).columns


MEAN = r" \(did you mean '{}'\?\)"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("in_range:", "in_rnage:", "'age': unknown key 'in_rnage'" + MEAN.format("in_range")),
        ("max_value: 120", "max_vlue: 120", "no setting 'max_vlue'" + MEAN.format("max_value")),
        ("min_rows:", "min_row:", "table: unknown check 'min_row'" + MEAN.format("min_rows")),
        ("strict: true", "strict: true\nstrikt: 1", "section 'strikt'" + MEAN.format("strict")),
        ("nullable: false", "nullable: 'false'", "nullable must be true or false, not 'false'"),
        ("dtype: float64", "dtype: flaot64", "column 'age':"),
        ("isin: [a, b]", "isin: [a, b]\n    nulable: 1", "'nulable'" + MEAN.format("nullable")),
    ],
)  # fmt: skip
def test_a_misspelled_or_unknown_key_is_an_error_naming_its_line(tmp_path, old, new, expected):
    text = BASE.replace(old, new, 1)
    message = refused(tmp_path, text)
    assert re.search(expected, message), message
    changed = new.splitlines()[-1].strip()
    assert f"contract.yaml:{line_of(text, changed)}:" in message, message


def test_every_problem_is_listed_at_once_in_line_order(tmp_path):
    text = BASE.replace("in_range:", "in_rnage:").replace("min_rows:", "min_row:")
    message = refused(tmp_path, text)
    assert "2 problem(s)" in message
    assert message.index("in_rnage") < message.index("min_row'")


def test_a_key_given_twice_names_both_lines(tmp_path):
    text = BASE.replace("strict: true", "strict: true\nstrict: false")
    message = refused(tmp_path, text)
    first, second = line_of(text, "strict: true"), line_of(text, "strict: false")
    assert f"contract.yaml:{second}: 'strict' is given twice (first on line {first})" in message


def test_the_listed_form_of_checks_is_checked_too(tmp_path):
    text = BASE.replace(
        "    isin: [a, b]\n",
        "    checks:\n      - {allowed_valuez: [a, b], options: {check_name: isin}}\n",
    )
    assert "check isin has no setting 'allowed_valuez'" in refused(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the contract is empty"),
        ("{}\n", "the contract is empty"),
        ("- a\n- b\n", "a contract is a mapping"),
        ("columns: [1,\n", "not valid YAML"),
        ("schema_type: dataframe\ncolumns: {}\n", "declares no columns"),
    ],
)
def test_an_empty_or_shapeless_contract_is_refused(tmp_path, text, expected):
    assert expected in refused(tmp_path, text)


def test_the_custom_checks_are_known_names():
    assert {"min_rows", "max_null_fraction", "max_duplicate_fraction", "in_range"} <= check_names()


def test_validation_finds_the_repeated_rows_once_and_reports_them(monkeypatch, raw, contract):
    """The max_duplicate_fraction check and the report's count come from one pass over the
    rows (each is 7-8 s at 10M rows), whether the check passes or fails."""
    import pandas as pd

    from tabpipe.core import contract as contract_module

    caps = [c.statistics for c in contract.checks if c.name == "max_duplicate_fraction"]
    if not caps:
        pytest.skip("not applicable: the contract has no max_duplicate_fraction check")
    frame = raw.reset_index(drop=True)
    already = int(frame.duplicated().sum())  # the project's own repeats
    once_more = pd.concat([frame, frame.head(1)], ignore_index=True)
    doubled = pd.concat([frame, frame], ignore_index=True)  # every row once more: half repeat
    first_of_doubled = int(doubled.duplicated().to_numpy().argmax())
    passes: list[int] = []
    real = pd.DataFrame.duplicated

    def counted(self, *args, **kwargs):
        passes.append(len(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "duplicated", counted)
    for table, repeats in ((once_more, already + 1), (doubled, already + len(frame))):
        for inplace in (False, True):
            passes.clear()
            report, validated = contract_module.check(
                table.copy(), contract, source="s", contract="c", inplace=inplace
            )
            assert report.duplicate_rows == repeats and passes == [len(table)], inplace
    assert contract_module._found_duplicates.get() is None  # nothing kept after a check
    if caps[0]["max_fraction"] < 0.5:  # beyond the cap: the failure names the first repeat
        failure = next(f for f in report.failures if f.check.startswith("max_duplicate_fraction"))
        assert validated is None and failure.rows[0] == first_of_doubled
