"""init's evidence: the encoding of categories it writes is the one that cross-validates
better on the user's data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tabpipe.core.config import Params, Task
from tabpipe.core.metrics import Predictions, scores
from tabpipe.onboarding.evidence import better_encoding, measure, sampling_noise
from tabpipe.pipeline.gate import Evidence
from tabpipe.pipeline.split import split_frame
from tests.support.factories import named_models_table, onboarded, synthetic, synthetic_params


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


def held_out(rows: int, accuracy: float, *, classes: int = 3) -> Predictions:
    """Held-out predictions of ``rows`` rows, balanced over ``classes``, a share right."""
    names = tuple(f"c{k}" for k in range(classes))
    truth = np.array([names[i % classes] for i in range(rows)], dtype=object)
    wrong = np.zeros(rows, dtype=bool)
    wrong[:: round(1 / (1 - accuracy))] = True
    predicted = np.where(wrong, np.roll(truth, 1), truth)
    proba = np.full((rows, classes), 0.1 / (classes - 1))
    proba[np.arange(rows), [names.index(p) for p in predicted]] = 0.9
    return Predictions(truth, predicted, proba, names)


def test_the_test_splits_noise_is_what_a_split_of_its_size_gives() -> None:
    """The binomial's standard deviation for accuracy, widened by the folds' own mean; the
    iris defect: 120 training rows at 0.95 and a 30-row test split, where the folds' spread
    (0.017) said a third of it."""
    params = synthetic_params("multiclass")
    predictions = held_out(120, 0.95)
    assert scores(Task.MULTICLASS, predictions)["accuracy"] == 0.95
    for test_rows in (30, 1_200):  # 1,200: drawn at DRAWN_ROWS and scaled
        noise = sampling_noise(Task.MULTICLASS, params, predictions, test_rows=test_rows)
        binomial = math.sqrt(0.95 * 0.05 / test_rows) * math.sqrt(1 + test_rows / 120)
        assert noise["accuracy"] == pytest.approx(binomial, rel=0.25), test_rows
        assert noise["roc_auc"] > 0


def test_a_test_split_of_whole_groups_is_as_noisy_as_its_groups_are_few() -> None:
    """With split.group_by the test split holds whole groups: rows of a group, right or
    wrong together, count as one draw, not as ten."""
    params = synthetic_params("multiclass")
    predictions = held_out(400, 0.8)
    order = np.argsort(~(np.arange(400) % 5 == 0), kind="stable")  # the wrong rows first
    predictions = predictions.subset(order)
    groups = np.arange(400) // 10  # groups of ten rows: all wrong, or all right
    by_row = sampling_noise(Task.MULTICLASS, params, predictions, test_rows=100)
    by_group = sampling_noise(
        Task.MULTICLASS, params, predictions, test_rows=100, groups=groups, test_groups=10
    )
    assert by_group["accuracy"] > 2 * by_row["accuracy"]


def test_measuring_a_small_table_gives_its_test_splits_size_and_noise() -> None:
    frame, params, _ = onboarded(synthetic("multiclass", rows=150), "y")
    evidence = measure(frame, params)
    assert evidence is not None
    _, test = split_frame(frame, "y", params.split, classification=True)
    assert evidence.test_rows == len(test) and 20 <= len(test) <= 40
    assert {"accuracy", "roc_auc"} <= set(evidence.noise)
    assert all(0 < evidence.noise[m] < 0.5 for m in ("accuracy", "roc_auc"))


def test_the_noise_measured_apart_is_the_noise_a_whole_measure_gives() -> None:
    from tabpipe.onboarding.evidence import cross_validate, with_noise

    frame, params, _ = onboarded(synthetic("multiclass", rows=200), "y")
    done = cross_validate(frame, params)
    assert done is not None and done.evidence.noise == {}
    assert with_noise(done) == measure(frame, params)
    assert with_noise(done).noise["accuracy"] > 0


def test_init_measures_the_noise_only_for_the_encoding_it_writes(monkeypatch) -> None:
    """Both encodings of the categories are cross-validated; the test split's noise (100
    resampled scorings, a second or two) is measured once, for the encoding written."""
    import yaml

    from tabpipe.onboarding import evidence as evidence_module
    from tabpipe.onboarding.init import render_params
    from tabpipe.onboarding.plan import plan
    from tests.support.factories import project_code

    table = named_models_table()
    frame, _, _ = onboarded(table, "y")
    measured: list[int] = []
    real = evidence_module.sampling_noise

    def counted(*args, **kwargs):
        measured.append(kwargs["test_rows"])
        return real(*args, **kwargs)

    crossed: list[str] = []
    cross_validate = evidence_module.cross_validate

    def recorded(frame, params, **kwargs):
        crossed.append(params.train.hist_gradient_boosting.encode_categories)
        return cross_validate(frame, params, **kwargs)

    monkeypatch.setattr(evidence_module, "sampling_noise", counted)
    monkeypatch.setattr("tabpipe.onboarding.init.cross_validate", recorded)
    code = project_code()
    text, notes = render_params(plan(table, "y"), frame, Path("t.csv"), code.package, code.package)
    assert sorted(crossed) == ["one_hot", "ordinal"] and len(measured) == 1
    written = yaml.safe_load(text)["train"]["hist_gradient_boosting"]["encode_categories"]
    assert written in crossed and any("lands within about" in note for note in notes)
