"""init's evidence: the encoding of categories it writes is the one that cross-validates
better on the user's data."""

from __future__ import annotations

from tabpipe.core.config import Params, Task
from tabpipe.onboarding.evidence import better_encoding, measure
from tabpipe.pipeline.gate import Evidence
from tests.support.factories import named_models_table, onboarded


def evidence(spread: float = 0.0, **cross_validated: float) -> Evidence:
    return Evidence(5, 100, {}, dict(cross_validated), dict.fromkeys(cross_validated, spread))


def test_another_encoding_wins_only_by_more_than_the_folds_noise() -> None:
    better = {"one_hot": evidence(0.016, roc_auc=0.943), "ordinal": evidence(roc_auc=0.997)}
    chosen, why = better_encoding(Task.MULTICLASS, better)
    assert chosen == "ordinal" and "0.997" in why and "0.943 one_hot" in why
    noise = {"one_hot": evidence(0.013, roc_auc=0.9792), "ordinal": evidence(roc_auc=0.9809)}
    assert better_encoding(Task.BINARY, noise)[0] == "one_hot"
    tie = {"one_hot": evidence(roc_auc=0.9), "ordinal": evidence(roc_auc=0.9)}
    assert better_encoding(Task.BINARY, tie)[0] == "one_hot"


def test_for_regression_the_lower_rmse_wins() -> None:
    measured = {"one_hot": evidence(5.0, rmse=620.0), "ordinal": evidence(rmse=606.0)}
    assert better_encoding(Task.REGRESSION, measured)[0] == "ordinal"
    measured = {"one_hot": evidence(rmse=3.6), "ordinal": evidence(rmse=3.7)}
    assert better_encoding(Task.REGRESSION, measured)[0] == "one_hot"


def test_an_encoding_that_could_not_be_measured_leaves_the_first() -> None:
    measured = {"one_hot": None, "ordinal": evidence(roc_auc=0.99)}
    chosen, why = better_encoding(Task.BINARY, measured)
    assert chosen == "one_hot" and "could not be cross-validated" in why


def with_encoding(params: Params, encoding: str) -> Params:
    family = params.train.family
    data = params.model_dump(mode="json")
    data["train"][family] = {**data["train"].get(family, {}), "encode_categories": encoding}
    return Params.model_validate(data)


def test_on_a_category_with_many_values_the_numbered_encoding_cross_validates_better() -> None:
    """mpg's shape: the label decided by a 40-valued name; one-hot trees barely see it."""
    table = named_models_table()
    frame, params, _ = onboarded(table, "y")
    params = params.model_copy(
        update={"train": params.train.model_copy(update={"family": "hist_gradient_boosting"})}
    )
    measured = {e: measure(frame, with_encoding(params, e)) for e in ("one_hot", "ordinal")}
    assert better_encoding(Task.MULTICLASS, measured)[0] == "ordinal", measured
