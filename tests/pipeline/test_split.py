"""Stage split: seeded, stratified, disjoint."""

import numpy as np
import pandas as pd
import pytest

from tabpipe.core.config import SplitParams
from tabpipe.core.stage import StageFailed
from tabpipe.pipeline.split import (
    identical_groups,
    joined,
    named_groups,
    repeated_rows,
    split_frame,
)
from tests.support.factories import synthetic


def test_the_split_is_disjoint_complete_and_stratified():
    frame = synthetic("multiclass", rows=600).reset_index(names="row_id")
    train, test = split_frame(frame, "y", SplitParams(seed=1, test_size=0.25), classification=True)
    assert len(train) + len(test) == len(frame)
    assert set(train.row_id).isdisjoint(test.row_id)
    share = frame.y.value_counts(normalize=True)
    assert (test.y.value_counts(normalize=True) - share).abs().max() < 0.01


def test_the_same_seed_gives_the_same_split_and_another_seed_does_not(raw, params):
    target, classification = params.data.target, params.data.task.is_classification
    a, _ = split_frame(raw, target, SplitParams(seed=7), classification=classification)
    b, _ = split_frame(raw, target, SplitParams(seed=7), classification=classification)
    c, _ = split_frame(raw, target, SplitParams(seed=8), classification=classification)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_a_class_too_rare_to_stratify_is_a_clear_failure():
    frame = pd.DataFrame({"x": range(10), "y": ["a"] * 9 + ["b"]})
    with pytest.raises(StageFailed, match=r"fewer than 2 rows.*'b'"):
        split_frame(frame, "y", SplitParams(), classification=True)


def test_regression_is_not_stratified():
    frame = pd.DataFrame({"x": range(20), "y": [float(i) for i in range(20)]})
    _, test = split_frame(frame, "y", SplitParams(test_size=0.5), classification=False)
    assert len(test) == 10


def test_identical_rows_never_straddle_the_split():
    """Defect: a table given twice put copies of a row on both sides (test AUC rose)."""
    frame = synthetic("binary", rows=400)
    doubled = pd.concat([frame, frame, frame.head(50)], ignore_index=True)
    train, test = split_frame(doubled, "y", SplitParams(seed=3), classification=True)
    assert len(train) + len(test) == len(doubled)
    assert train.merge(test.drop_duplicates(), how="inner").empty
    assert abs(len(test) / len(doubled) - 0.2) < 0.02


def test_identical_is_judged_on_the_given_columns_only():
    frame = synthetic("binary", rows=300)
    doubled = pd.concat([frame, frame], ignore_index=True).reset_index(names="row_id")
    features = list(frame.columns)
    train, test = split_frame(
        doubled, "y", SplitParams(seed=1), classification=True, identical_on=features
    )
    assert train[features].merge(test[features].drop_duplicates()).empty
    assert set(train.row_id).isdisjoint(test.row_id)


def test_without_duplicates_the_split_is_exactly_scikit_learns(raw, params):
    from sklearn.model_selection import train_test_split

    frame = raw.drop_duplicates().reset_index(drop=True)
    target = params.data.target
    stratify = frame[target] if params.data.task.is_classification else None
    row_wise = params.split.model_copy(update={"group_by": []})  # groups: tested below
    train, _ = split_frame(
        frame, target, row_wise, classification=params.data.task.is_classification
    )
    expected, _ = train_test_split(
        frame, test_size=params.split.test_size, random_state=params.split.seed, stratify=stratify
    )
    pd.testing.assert_frame_equal(train, expected.reset_index(drop=True))


@pytest.mark.parametrize("labels", [["b", "a", "c"], [2, 0, 1]])
@pytest.mark.parametrize("stratify", [True, False])
def test_the_split_is_the_one_scikit_learn_gives_on_the_frame(labels, stratify):
    from sklearn.model_selection import train_test_split

    frame = synthetic("multiclass", rows=500, seed=4)
    frame["y"] = frame["y"].map(dict(zip(sorted(frame["y"].unique()), labels, strict=True)))
    split = SplitParams(seed=3, test_size=0.3, stratify=stratify)
    train, test = split_frame(frame, "y", split, classification=True)
    expected = train_test_split(
        frame, test_size=0.3, random_state=3, stratify=frame["y"] if stratify else None
    )
    pd.testing.assert_frame_equal(train, expected[0].reset_index(drop=True))
    pd.testing.assert_frame_equal(test, expected[1].reset_index(drop=True))


def test_group_ids_say_what_duplicated_says_missing_values_included():
    frame = pd.DataFrame(
        {
            "a": [1.0, np.nan, 1.0, np.nan, 2.0, 1.0],
            "b": ["x", "y", "x", "y", "x", "z"],
            "c": [0, 1, 2, 3, 4, 5],
        }
    )
    for keys in (["a", "b"], ["a"], None):
        groups = identical_groups(frame, keys)
        subset = keys if keys is not None else list(frame.columns)
        repeats = pd.Series(groups).duplicated(keep=False).to_numpy()
        assert (repeats == frame.duplicated(subset=subset, keep=False).to_numpy()).all(), keys
        assert repeated_rows(groups) == int(frame.duplicated(subset=subset).sum()), keys
    assert repeated_rows(identical_groups(frame.head(0))) == 0


def test_group_ids_are_pandas_own_on_every_kind_of_column():
    rng = np.random.default_rng(0)
    rows = 2_000
    pick = lambda values: [values[i] for i in rng.integers(0, len(values), rows)]  # noqa: E731
    frame = pd.DataFrame(
        {
            "number": pick([0.0, -0.0, 1.5, np.nan, 2.0]),
            "whole": pick([1, 2, 3]),
            "nullable": pd.array(pick([1, None, 3]), dtype="Int64"),
            "flag": pick([True, False]),
            "text": pick(["x", None, "y", ""]),
            "mixed": pd.Series(pick(["a", None, np.nan, 3]), dtype=object),
            "category": pd.Categorical(pick(["a", "b", None])),
        }
    )
    for keys in (None, ["text"], ["number", "mixed"], ["category", "flag", "nullable"]):
        subset = keys if keys is not None else list(frame.columns)
        expected = frame.groupby(subset, dropna=False, sort=False).ngroup().to_numpy()
        np.testing.assert_array_equal(identical_groups(frame, keys), expected, err_msg=str(keys))
    unique = pd.DataFrame({"id": range(50), "copy": [1] * 50})
    np.testing.assert_array_equal(identical_groups(unique), np.arange(50))


def test_group_ids_skip_the_columns_left_once_every_row_is_alone(monkeypatch):
    # Every row is alone after the two 10-valued columns: the 100-valued one is not numbered.
    pairs = pd.DataFrame({"id": range(100), "a": np.arange(100) // 10, "b": np.arange(100) % 10})
    numbered, factorize = [], pd.factorize

    def spy(values, *args, **kwargs):
        numbered.append(getattr(values, "name", None))
        return factorize(values, *args, **kwargs)

    monkeypatch.setattr(pd, "factorize", spy)
    np.testing.assert_array_equal(identical_groups(pairs), np.arange(100))
    assert {"a", "b"} <= set(numbered) and "id" not in numbered


def test_group_ids_do_not_depend_on_the_order_the_columns_are_numbered_in():
    rng = np.random.default_rng(1)
    rows = 3_000
    frame = pd.DataFrame(
        {
            "few": rng.integers(0, 2, rows),
            "some": pd.Series(rng.choice(["p", "q", "r", None], rows), dtype=object),
            "many": rng.integers(0, 40, rows).astype(float),
            "label": rng.choice(["yes", "no"], rows),
        }
    )
    expected = frame.groupby(list(frame.columns), dropna=False, sort=False).ngroup().to_numpy()
    assert 0 < repeated_rows(expected) < rows  # some rows repeat, most do not
    for _ in range(6):
        keys = list(rng.permutation(frame.columns))
        np.testing.assert_array_equal(identical_groups(frame, keys), expected, err_msg=str(keys))


def test_a_split_too_small_for_every_class_is_a_clear_failure_with_the_knobs_to_turn():
    frame = pd.DataFrame({"x": range(12), "y": list("aabbccddeeff")})
    with pytest.raises(StageFailed, match=r"3 test rows cannot hold each of 6 classes.*test_size"):
        split_frame(frame, "y", SplitParams(test_size=0.2), classification=True)


def panel(groups: int = 80, rows_each: int = 5, seed: int = 0) -> pd.DataFrame:
    """Rows of people (``person``, in runs): a label and a signature constant per person,
    so a model can score well on a test split only by recognising people it trained on."""
    rng = np.random.default_rng(seed)
    person = np.repeat(np.arange(1, groups + 1), rows_each)
    signature = np.repeat(rng.normal(size=groups), rows_each)
    label = np.repeat(rng.choice(["no", "yes"], size=groups), rows_each)
    return pd.DataFrame(
        {
            "person": person,
            "signature": signature + rng.normal(scale=1e-3, size=len(person)),
            "x": rng.normal(size=len(person)),
            "y": label,
        }
    )


def test_rows_of_a_group_stay_on_one_side_of_the_split():
    frame = panel()
    plain = SplitParams(seed=0)
    train, test = split_frame(frame, "y", plain, classification=True)
    assert set(train.person) & set(test.person), "a row-wise split mixes people (the premise)"
    grouped = SplitParams(seed=0, group_by=["person"])
    train, test = split_frame(frame, "y", grouped, classification=True)
    assert not set(train.person) & set(test.person)
    assert len(train) + len(test) == len(frame)
    assert 0.1 < len(test) / len(frame) < 0.3


def test_groups_and_identical_rows_together_link_rows_transitively():
    """Row 0 and row 1 share a group; row 1 and row 2 are identical; so all three go together."""
    first = np.array([0, 0, 1, 2, 3])  # groups
    second = np.array([0, 1, 1, 2, 3])  # identical rows
    assert joined(first, second).tolist() == [0, 0, 0, 1, 2]
    chain = np.arange(10)
    assert joined(chain // 2, (chain + 1) // 2).tolist() == [0] * 10  # one link per round


def test_a_row_missing_its_group_is_a_group_of_its_own():
    frame = pd.DataFrame({"g": [1.0, 1.0, None, 2.0, None]})
    assert named_groups(frame, ["g"]).tolist() == [0, 0, 2, 1, 3]


def test_a_moved_copy_goes_after_its_new_sides_rows_in_its_old_sides_order():
    from tabpipe.pipeline.split import keep_identical_rows_together

    groups = np.array([0, 1, 0, 2, 1, 3])  # row 2 repeats row 0, row 4 repeats row 1
    train, test = keep_identical_rows_together(np.array([0, 4, 3]), np.array([2, 1, 5]), groups)
    assert train.tolist() == [0, 3, 2] and test.tolist() == [1, 5, 4]
    alone = np.arange(6)  # no row repeats: the split as it came
    train, test = keep_identical_rows_together(np.array([0, 4, 3]), np.array([2, 1, 5]), alone)
    assert train.tolist() == [0, 4, 3] and test.tolist() == [2, 1, 5]
