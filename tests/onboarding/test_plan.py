"""Planning a new dataset: task inference, feature types, refusals, and the inferred contract."""

import numpy as np
import pandas as pd
import pytest
import yaml

from tabpipe.core.config import Params, Task
from tabpipe.core.contract import check
from tabpipe.onboarding.plan import OnboardingError, contract_for, params_for, plan
from tests.support.factories import synthetic


def test_the_task_is_inferred_from_the_target_and_said():
    for task in ("binary", "multiclass", "regression"):
        frame = synthetic(task)
        chosen = plan(frame, "y")
        assert chosen.task is Task(task)
        assert chosen.task_inferred
        assert any(note.startswith(f"task: {task}, inferred") for note in chosen.notes)


def test_a_given_task_is_not_second_guessed():
    chosen = plan(synthetic("binary"), "y", task=Task.MULTICLASS)
    assert chosen.task is Task.MULTICLASS and not chosen.task_inferred


def test_features_are_typed_and_the_rarer_binary_class_is_positive():
    frame = synthetic("binary").assign(y=lambda f: np.where(np.arange(len(f)) < 50, "fraud", "ok"))
    chosen = plan(frame, "y")
    assert chosen.numeric == ["x1", "x2"] and chosen.categorical == ["colour"]
    assert chosen.positive_class == "fraud"
    assert plan(frame, "y", positive_class="ok").positive_class == "ok"


def test_every_problem_is_reported_at_once():
    frame = synthetic("binary").assign(
        notes=lambda f: [
            f"a long free-text remark about this customer, row {i}" for i in range(len(f))
        ],
        signup=lambda f: pd.date_range("2020-01-01", periods=len(f)).strftime("%Y-%m-%d"),
    )
    frame.loc[3, "y"] = None
    with pytest.raises(OnboardingError) as error:
        plan(frame, "y", exclude=("nope",))
    message = str(error.value)
    assert "'notes' holds free text" in message and "--exclude notes" in message
    assert "'signup' holds dates" in message
    assert "missing in 1 row(s) (row index [3])" in message and "--drop-missing-target" in message
    assert "--exclude names columns that are not in the data: ['nope']" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: f.drop(columns=["y"]), "target column 'y' is not in the data"),
        (lambda f: f.assign(y="same"), "single class"),
        (lambda f: f.head(20), "at least 50 are needed"),
        (lambda f: f.assign(y=["a"] + ["b"] * (len(f) - 1)), "fewer than 2 rows"),
        (lambda f: f.assign(x1=np.nan, x2=np.nan, colour=np.nan), "is empty in every row"),
    ],
)
def test_unusable_data_is_refused_with_the_reason(change, expected):
    with pytest.raises(OnboardingError, match=expected):
        plan(change(synthetic("binary")), "y")


def test_row_identifiers_are_left_out_and_said():
    frame = (
        synthetic("binary").reset_index(names="customer_row").assign(id=lambda f: f.index + 1000)
    )
    chosen = plan(frame, "y")
    assert set(chosen.excluded) == {"id", "customer_row"}
    assert "id" not in chosen.features


def test_awkward_column_names_are_kept_as_they_are():
    frame = synthetic("multiclass").rename(columns={"x1": "Length (mm)", "colour": "Île de départ"})
    chosen = plan(frame, "y")
    assert "Length (mm)" in chosen.numeric and "Île de départ" in chosen.categorical


def test_the_inferred_contract_accepts_its_data_and_rejects_what_it_should():
    frame = synthetic("binary", rows=400)
    chosen = plan(frame, "y")
    schema = contract_for(frame, chosen, "demo")
    report, _ = check(frame, schema, source="demo", contract="inferred")
    assert report.ok, report.summary()

    bad = frame.copy().astype({"colour": object})
    bad.loc[0, "x2"] = 1e6
    bad.loc[1, "colour"] = "purple"
    bad["extra"] = 1
    report, _ = check(bad, schema, source="bad", contract="inferred")
    found = {(f.column, f.check.split("(")[0]) for f in report.failures}
    assert {("x2", "in_range"), ("colour", "isin"), ("extra", "unexpected column")} <= found

    report, _ = check(frame.head(100), schema, source="few", contract="inferred")
    assert any(f.check.startswith("min_rows") for f in report.failures)

    emptied = frame.assign(x2=np.nan)
    report, _ = check(emptied, schema, source="nulls", contract="inferred")
    assert ("x2", "max_null_fraction") in {
        (f.column, f.check.split("(")[0]) for f in report.failures
    }


def test_the_label_is_never_nullable_in_the_contract():
    frame = synthetic("regression")
    schema = contract_for(frame, plan(frame, "y"), "demo")
    assert not schema.columns["y"].nullable
    assert schema.strict is True


def test_the_demo_drift_thresholds_are_not_carried_to_new_data(root):
    template = yaml.safe_load((root / "params.yaml").read_text())
    # Thresholds tuned on the demo's columns (this project's own may have been reset already).
    template["monitor"]["drift"]["thresholds"] = {"Income": 0.2, "Home": 0.1}
    frame = synthetic("binary")
    column_plan = plan(frame, "y")
    written = params_for(
        column_plan,
        template,
        raw="data/s.csv",
        contract="contracts/data.yaml",
        rows=400,
        categories={"colour": 3},
    )
    assert written["monitor"]["drift"]["thresholds"] == {}
    assert written["monitor"]["drift"]["bins"] == template["monitor"]["drift"]["bins"]
    Params.model_validate(written)
