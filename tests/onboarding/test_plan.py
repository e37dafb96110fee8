"""Planning a new dataset: task inference, feature types, refusals, and the inferred contract."""

import shlex

import numpy as np
import pandas as pd
import pytest
import yaml

from tabpipe.core.config import Params, SplitParams, Task
from tabpipe.core.contract import check
from tabpipe.core.metrics import Predictions, scores
from tabpipe.onboarding.plan import (
    Kind,
    OnboardingError,
    contract_for,
    contract_spec,
    outward_bounds,
    params_for,
    plan,
)
from tests.pipeline.test_split import panel
from tests.support.factories import kinds_table, onboarded, synthetic


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


def test_a_positive_class_for_a_target_that_is_not_binary_is_refused():
    """Defect: iris (three classes) onboarded with --positive-class setosa ended green, the
    option ignored without a word."""
    for task in ("multiclass", "regression"):
        frame = synthetic(task)
        with pytest.raises(OnboardingError, match="--positive-class is for a binary target"):
            plan(frame, "y", positive_class="high")


def test_a_mistyped_column_name_is_answered_with_the_closest_one():
    wide = pd.DataFrame({f"pixel_{i}": range(60) for i in range(64)}).assign(target=[0, 1] * 30)
    with pytest.raises(OnboardingError) as refused:
        plan(wide, "targte")
    message = str(refused.value)
    assert "'targte' is not in the data (did you mean 'target'?)" in message
    assert "'pixel_19'] and 45 more" in message and "pixel_20" not in message
    with pytest.raises(OnboardingError, match=r"\['pixel_7x'\] \(did you mean 'pixel_7'\?\)"):
        plan(wide, "target", exclude=("pixel_7x",))


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


def test_whole_numbers_with_rare_values_suggest_regression():
    """Defect: ggplot2's mpg with --target hwy (highway miles per gallon, 27 whole-number
    values) was inferred multiclass and refused for its rare values, without a word about
    --task regression."""
    frame = synthetic("regression").assign(y=lambda f: (f["x1"] * 3).round().astype(int) + 20)
    frame.loc[0, "y"] = 99  # a value seen once
    assert frame["y"].nunique() <= 30
    with pytest.raises(OnboardingError, match="pass --task regression if they are amounts"):
        plan(frame, "y")
    labels = frame.assign(y=np.where(frame.index == 0, "rare", "common"))
    with pytest.raises(OnboardingError) as error:  # text classes: no such hint
        plan(labels, "y", task=Task.MULTICLASS)
    assert "--task regression" not in str(error.value)
    assert plan(frame, "y", task=Task.REGRESSION).task is Task.REGRESSION


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


def written_for(frame: pd.DataFrame, template: dict, task: Task | None = None) -> dict:
    """The params init writes for ``synthetic`` data (target ``y``) from ``template``."""
    return params_for(
        plan(frame, "y", task=task),
        template,
        raw="data/s.csv",
        contract="contracts/data.yaml",
        rows=len(frame),
        categories={"colour": 3},
    )


def test_the_demo_drift_thresholds_are_not_carried_to_new_data(root):
    template = yaml.safe_load((root / "params.yaml").read_text())
    # Thresholds tuned on the demo's columns (this project's own may have been reset already).
    template["monitor"]["drift"]["thresholds"] = {"Income": 0.2, "Home": 0.1}
    written = written_for(synthetic("binary"), template)
    assert written["monitor"]["drift"]["thresholds"] == {}
    assert written["monitor"]["drift"]["bins"] == template["monitor"]["drift"]["bins"]
    Params.model_validate(written)


@pytest.mark.parametrize("task", list(Task))
def test_a_new_project_watches_for_degradation_in_metrics_its_task_has(root, task):
    """The demo's thresholds name classification metrics: carried to a regression project
    they applied to nothing, and its scheduled check could never fire."""
    template = yaml.safe_load((root / "params.yaml").read_text())
    template["monitor"]["degradation"]["thresholds"] = {"roc_auc": 0.05, "accuracy": 0.05}
    written = written_for(synthetic(task.value), template, task=task)
    thresholds = written["monitor"]["degradation"]["thresholds"]
    recorded = scores(task, _predictions(task), "b" if task is Task.BINARY else None)
    assert thresholds and set(thresholds) <= set(recorded)
    assert (
        written["monitor"]["degradation"]["min_rows"]
        == (template["monitor"]["degradation"]["min_rows"])
    )
    Params.model_validate(written)


def _predictions(task: Task) -> Predictions:
    """Three rows, each class seen, to list the metrics the evaluate stage records."""
    if task is Task.REGRESSION:
        return Predictions(np.array([0.0, 1.0, 2.0]), np.array([0.5, 1.0, 1.5]))
    classes = ("a", "b") if task is Task.BINARY else ("a", "b", "c")
    labels = np.array([classes[i % len(classes)] for i in range(3)], dtype=object)
    proba = np.full((3, len(classes)), 1 / len(classes))
    return Predictions(labels, labels, proba, classes)


# --- column kinds, decided and said -------------------------------------------------------


def test_each_column_kind_is_decided_and_said():
    chosen = plan(kinds_table(), "y")
    said = {d.column: d for d in chosen.decisions}
    assert set(said) == set(kinds_table().columns) - {"y"}, "every column gets a decision"
    assert chosen.kind("member") is Kind.BOOLEAN and chosen.kind("opted_in") is Kind.BOOLEAN
    assert chosen.kind("grade") is Kind.ORDERED and "low < mid < high" in said["grade"].why
    assert chosen.kind("plan_code") is Kind.CODES
    assert "--numeric plan_code" in said["plan_code"].why
    assert "visits" in chosen.numeric
    for name in ("customer", "account", "country"):
        assert name in chosen.excluded and said[name].kind is None
    assert "identifier" in said["customer"].why and "--numeric customer" in said["customer"].why
    assert "constant" in said["country"].why and "'FR'" in said["country"].why
    assert set(chosen.categorical) >= {"member", "opted_in", "grade", "plan_code", "colour"}


def test_categorical_and_numeric_override_the_inferred_kind():
    frame = kinds_table()
    chosen = plan(frame, "y", categorical=("visits",), numeric=("plan_code", "customer"))
    assert "visits" in chosen.categorical and chosen.kind("visits") is Kind.CODES
    assert {"plan_code", "customer"} <= set(chosen.numeric)
    with pytest.raises(OnboardingError) as error:
        plan(frame, "y", numeric=("colour", "nope"), categorical=("x1",))
    message = str(error.value)
    assert "--numeric colour: column 'colour' is not numeric" in message
    assert "--numeric names columns that are not in the data: ['nope']" in message
    assert "--categorical x1: column 'x1' has 300 distinct values" in message


def test_the_contract_keeps_each_kind_and_accepts_its_data():
    frame = kinds_table()
    chosen = plan(frame, "y")
    spec = contract_spec(frame, chosen, "kinds")["columns"]
    assert spec["member"]["dtype"] == "boolean" and spec["opted_in"]["nullable"] is True
    assert spec["grade"]["isin"] == ["low", "mid", "high"], "ordered: in order, not sorted"
    assert spec["plan_code"] == {
        "dtype": "Int64",
        "nullable": False,
        "coerce": True,
        "isin": [1, 2, 3],
    }
    schema = contract_for(frame, chosen, "kinds")
    report, validated = check(frame, schema, source="kinds", contract="inferred")
    assert report.ok, report.summary()
    assert validated is not None and str(validated["opted_in"].dtype) == "boolean"
    # Text where a boolean belongs is refused, never read as True ("False" is truthy).
    bad = frame.assign(member=frame["member"].map({True: "True", False: "False"}))
    report, _ = check(bad, schema, source="text", contract="inferred")
    assert not report.ok and {f.column for f in report.failures} == {"member"}


def test_a_narrow_range_is_rounded_outward_and_its_data_accepted():
    rng = np.random.default_rng(0)
    frame = synthetic("regression").assign(latitude=lambda f: rng.uniform(52.5002, 52.5398, len(f)))
    frame.loc[0, "latitude"], frame.loc[1, "latitude"] = 52.5002, 52.5398
    chosen = plan(frame, "y")
    stats = contract_spec(frame, chosen, "narrow")["columns"]["latitude"]["in_range"]
    assert stats == {"min_value": 52.496, "max_value": 52.544}
    report, _ = check(frame, contract_for(frame, chosen, "narrow"), source="n", contract="c")
    assert report.ok, report.summary()


@pytest.mark.parametrize(
    ("low", "high"),
    [(52.5002, 52.5398), (120, 4980), (0, 1), (-3.2, 7.7), (5, 5), (1e-6, 3e-6), (-1e9, -2e8)],
)
def test_outward_bounds_contain_the_data(low, high):
    floor, ceil = outward_bounds(low, high)
    assert floor <= low and ceil >= high
    assert floor >= 0 or low < 0, "non-negative data keeps a non-negative floor"


AWKWARD = ["Passenger's name", "two words", "Île départ", "1st visit", "km/h", 'say "hi"']


@pytest.mark.parametrize("name", AWKWARD)
def test_every_suggested_option_pastes_into_a_shell(name):
    frame = synthetic("binary").assign(
        **{name: [f"a long free-text remark about this customer, row {i}" for i in range(400)]}
    )
    with pytest.raises(OnboardingError) as error:
        plan(frame, "y")
    suggested = next(line for line in str(error.value).splitlines() if "--exclude" in line).split(
        "pass ", 1
    )[1]
    assert shlex.split(suggested) == ["--exclude", name]
    codes = synthetic("binary").assign(**{name: np.arange(400) % 3})
    why = next(d.why for d in plan(codes, "y").decisions if d.column == name)
    assert shlex.split(why.split("pass ", 1)[1].split(" if ")[0]) == ["--numeric", name]


def test_a_column_naming_people_in_runs_of_rows_is_a_group_and_not_a_feature():
    """statsmodels' modechoice: an ``individual`` on four rows, one per travel mode."""
    frame = panel()
    chosen = plan(frame, "y")
    assert chosen.group_by == ["person"] and "person" not in chosen.features
    (decision,) = [d for d in chosen.decisions if d.column == "person"]
    assert decision.describe().startswith("'person': group identifier, left out (80 values")
    assert "--numeric person" in decision.why
    written = params_for(
        chosen,
        {"split": {"seed": 3}},
        raw="data/p.csv",
        contract="contracts/data.yaml",
        rows=len(frame),
        categories={},
    )
    assert written["split"] == {"seed": 3, "group_by": ["person"]}


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda f: f.rename(columns={"person": "age"}), "a name that does not say so"),
        (lambda f: f.sample(frac=1, random_state=0), "rows not in runs"),
        (lambda f: f[f.person <= 15], "fewer than 20 groups"),
    ],
)
def test_a_group_is_inferred_only_from_both_its_name_and_its_runs_of_rows(change, why):
    chosen = plan(change(panel()).reset_index(drop=True), "y")
    assert chosen.group_by == [], why


def test_a_group_can_be_given_and_a_found_one_made_a_feature():
    frame = panel().rename(columns={"person": "household_no"}).sample(frac=1, random_state=1)
    given = plan(frame, "y", group_by=("household_no",))
    assert given.group_by == ["household_no"] and "household_no" not in given.features
    kept = plan(panel(), "y", numeric=("person",))
    assert kept.group_by == [] and "person" in kept.numeric
    with pytest.raises(OnboardingError, match=r"--group-by names columns that are not in"):
        plan(panel(), "y", group_by=("persn",))


def test_evidence_on_grouped_rows_is_scored_on_groups_the_model_has_not_seen(monkeypatch):
    """The folds init cross-validates on keep a group's rows together, as the split does:
    a model that recognises a person would otherwise be scored on people it trained on."""
    from tabpipe.onboarding import evidence as evidence_module

    grouped, params, _ = onboarded(panel(groups=120), "y", group_by=("person",))
    assert params.split.group_by == ["person"]
    seen: dict[str, object] = {}
    held_out: list[set[int]] = []
    split_frame = evidence_module.split_frame

    def keeping_the_training_split(*args, **kwargs):
        train, test = split_frame(*args, **kwargs)
        seen["train"] = train
        return train, test

    def recording(task, model, X, y):
        held_out.append(set(X.index))
        return predict(task, model, X, y)

    predict = evidence_module._predict
    monkeypatch.setattr(evidence_module, "split_frame", keeping_the_training_split)
    monkeypatch.setattr(evidence_module, "_predict", recording)

    def people_on_both_sides() -> int:
        person = seen["train"].person  # type: ignore[attr-defined]
        mixed = 0
        for rows in held_out:
            inside = person[person.index.isin(rows)]
            outside = person[~person.index.isin(rows)]
            mixed += len(set(inside) & set(outside))
        return mixed

    assert evidence_module.measure(grouped, params) is not None and len(held_out) == 5
    assert people_on_both_sides() == 0
    held_out.clear()
    evidence_module.measure(grouped, params.model_copy(update={"split": SplitParams()}))
    assert people_on_both_sides() > 0, "row-wise folds mix people (the premise)"


def test_evidence_cross_validates_a_guess_and_the_default_model(monkeypatch):
    from tabpipe.onboarding import evidence as evidence_module
    from tabpipe.onboarding.evidence import measure

    frame, params, _ = onboarded(synthetic("binary", rows=300), "y")
    evidence = measure(frame, params)
    assert evidence is not None and evidence.folds == 5 and evidence.rows == 240
    assert evidence.baseline["roc_auc"] == 0.5
    assert evidence.cross_validated["roc_auc"] > 0.8 > evidence.baseline["accuracy"]
    rare = frame.copy()
    rare.loc[0, "y"] = "maybe"  # a class with one row: no fold split can keep it
    rare_params = params.model_copy(
        update={"data": params.data.model_copy(update={"task": Task.MULTICLASS})}
    )
    monkeypatch.setattr(evidence_module, "split_frame", lambda f, *a, **k: (f, f.head(0)))
    assert measure(rare, rare_params) is None


def test_the_inferred_contract_caps_duplicate_rows_from_what_the_data_holds():
    frame = synthetic("binary", rows=400)
    chosen = plan(frame, "y")
    spec = contract_spec(frame, chosen, "demo")
    assert spec["checks"]["max_duplicate_fraction"] == {"max_fraction": 0.01}
    repeated = pd.concat([frame, frame.head(40)], ignore_index=True)  # 40 of 440 repeat
    cap = contract_spec(repeated, plan(repeated, "y"), "demo")["checks"]
    assert cap["max_duplicate_fraction"]["max_fraction"] == round((1 + 3 * 40 / 440) / 4, 3)
    few = pd.concat([frame, frame.head(4)], ignore_index=True)  # 4 of 404: room to grow 10x
    cap = contract_spec(few, plan(few, "y"), "demo")["checks"]["max_duplicate_fraction"]
    assert cap["max_fraction"] == round(10 * 4 / 404, 3)
    schema = contract_for(frame, chosen, "demo")
    doubled = pd.concat([frame, frame], ignore_index=True)
    report, _ = check(doubled, schema, source="twice", contract="inferred")
    assert any(f.check.startswith("max_duplicate_fraction") for f in report.failures)


def test_a_table_whose_rows_mostly_repeat_passes_its_contract_and_the_table_twice_does_not():
    """Twice a share above a third would allow more than the doubled table holds (statsmodels'
    RAND health data: 55% of its rows repeat, the table twice holds 77%)."""
    frame = synthetic("binary", rows=400)
    coarse = pd.concat([frame] + [frame.head(100)] * 4, ignore_index=True)  # 400 of 800 repeat
    chosen = plan(coarse, "y")
    cap = contract_spec(coarse, chosen, "demo")["checks"]["max_duplicate_fraction"]
    assert 0.5 < cap["max_fraction"] < (1 + 0.5) / 2
    schema = contract_for(coarse, chosen, "demo")
    alone, _ = check(coarse, schema, source="alone", contract="inferred")
    twice, _ = check(pd.concat([coarse, coarse]), schema, source="twice", contract="inferred")
    assert alone.ok and not twice.ok
    assert [f.check for f in twice.failures] == ["max_duplicate_fraction(max_fraction=0.625)"]


def test_a_table_left_with_no_feature_says_why_each_column_was_left_out():
    """statsmodels' co2: a date stored as YYYYMMDD integers, every one distinct, was the only
    column beside the target; the refusal said only that no feature remained."""
    frame = pd.DataFrame({"date": range(19580329, 19580329 + 200), "level": np.arange(200.0)})
    frame["site"] = "mauna loa"
    with pytest.raises(OnboardingError) as refused:
        plan(frame, "level")
    message = str(refused.value)
    assert "no usable feature columns remain" in message
    assert "'date': left out (an identifier: 100% of its integer values are distinct" in message
    assert "pass --numeric date to use it as a number" in message
    assert "'site': left out (constant: every value is 'mauna loa')" in message
