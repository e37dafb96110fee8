"""Stage split: seeded, stratified, disjoint."""

import pandas as pd
import pytest

from tabpipe.config import SplitParams
from tabpipe.split import split_frame
from tabpipe.stage import StageFailed


def test_the_split_is_disjoint_complete_and_stratified(credit):
    frame = credit.reset_index().rename(columns={"index": "row_id"})
    train, test = split_frame(
        frame, "Status", SplitParams(seed=1, test_size=0.25), classification=True
    )
    assert len(train) + len(test) == len(frame)
    assert set(train.row_id).isdisjoint(test.row_id)
    share = frame.Status.value_counts(normalize=True)
    assert (test.Status.value_counts(normalize=True) - share).abs().max() < 0.01


def test_the_same_seed_gives_the_same_split_and_another_seed_does_not(credit):
    a, _ = split_frame(credit, "Status", SplitParams(seed=7), classification=True)
    b, _ = split_frame(credit, "Status", SplitParams(seed=7), classification=True)
    c, _ = split_frame(credit, "Status", SplitParams(seed=8), classification=True)
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
