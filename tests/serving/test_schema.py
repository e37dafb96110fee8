"""Request models from the serving signature: strict, finite, float32-bounded, contract-shaped."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from tabpipe.serving.runtime import FLOAT32_MAX, Feature
from tabpipe.serving.schema import batch_model, columns_model, row_model

FEATURES = [
    Feature("Length (mm)", "Length__mm_", "numeric", nullable=True),
    Feature("age", "age", "numeric", nullable=False, minimum=0, maximum=120),
    Feature("colour", "colour", "categorical", nullable=False, categories=("red", "blue")),
]
GOOD = {"Length (mm)": 3.5, "age": 40, "colour": "red"}


def errors(model, payload) -> list[tuple]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(payload) if isinstance(payload, str) else model.model_validate(
            payload
        )
    return [(e["loc"], e["type"]) for e in caught.value.errors()]


def test_feature_names_that_are_not_identifiers_are_the_json_keys():
    Row = row_model(FEATURES)
    assert Row.model_validate(GOOD).model_dump(by_alias=True) == {**GOOD, "age": 40.0}
    assert set(Row.model_json_schema()["properties"]) == set(GOOD)


def test_a_number_float32_cannot_hold_is_refused_without_any_contract_range():
    Row = row_model(FEATURES)
    assert Row.model_validate({**GOOD, "Length (mm)": FLOAT32_MAX})
    assert errors(Row, '{"Length (mm)": 1e39, "age": 1, "colour": "red"}') == [
        (("Length (mm)",), "less_than_equal")
    ]


@pytest.mark.parametrize(
    ("value", "kind"),
    [(True, "float_type"), ("3", "float_type"), (None, "float_type"), (121, "less_than_equal")],
)
def test_strict_numbers_within_the_contract(value, kind):
    assert errors(row_model(FEATURES), {**GOOD, "age": value}) == [(("age",), kind)]


def test_categories_are_the_allowed_values_only():
    Row = row_model(FEATURES)
    assert errors(Row, {**GOOD, "colour": "green"}) == [(("colour",), "literal_error")]
    assert errors(Row, {**GOOD, "colour": None}) == [(("colour",), "literal_error")]


def test_batches_are_bounded_and_columns_equal_in_length():
    Row = row_model(FEATURES)
    Batch = batch_model(Row, max_batch=2)
    assert errors(Batch, {"rows": []}) == [(("rows",), "too_short")]
    assert errors(Batch, {"rows": [GOOD] * 3}) == [(("rows",), "too_long")]
    Columns = columns_model(FEATURES, max_batch=2)
    ok = {"columns": {k: [v, v] for k, v in GOOD.items()}}
    assert Columns.model_validate(ok)
    uneven = {"columns": {**ok["columns"], "age": [1]}}
    with pytest.raises(
        ValidationError, match="column 'age' has 1 values but 'Length \\(mm\\)' has 2"
    ):
        Columns.model_validate(uneven)


def test_booleans_take_json_true_and_false_only():
    Row = row_model([*FEATURES, Feature("member", "member", "boolean", nullable=True)])
    for value in (True, False, None):
        assert (
            Row.model_validate({**GOOD, "member": value}).model_dump(by_alias=True)["member"]
            is value
        )
    for text in ('"True"', "1", '"yes"'):
        payload = json.dumps({**GOOD, "member": "MARK"}).replace('"MARK"', text)
        assert errors(Row, payload) == [(("member",), "bool_type")]


def test_integer_codes_take_json_integers_of_the_contract_only():
    codes = Feature("plan", "plan", "categorical", nullable=False, categories=(1, 2, 3))
    Row = row_model([*FEATURES, codes])
    assert Row.model_validate({**GOOD, "plan": 2}).model_dump(by_alias=True)["plan"] == 2
    for text, kind in (("4", "value_error"), ("true", "int_type"), ("2.0", "int_type")):
        payload = json.dumps({**GOOD, "plan": "MARK"}).replace('"MARK"', text)
        assert errors(Row, payload) == [(("plan",), kind)]
    assert Row.model_json_schema()["properties"]["plan"]["enum"] == [1, 2, 3]
