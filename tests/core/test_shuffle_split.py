"""The split stage's numpy split gives scikit-learn's ``train_test_split`` indices exactly.

A project's committed split (and every metric on it) was made by scikit-learn's splitters:
if a scikit-learn release changes how they draw, or this module drifts from them, these
fail instead of a project's split moving silently.
"""

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from tabpipe.core.shuffle_split import shuffle_split, split_sizes

# (rows, test share, seed, class counts or None): plain shuffles, balanced and skewed
# classes, many classes with ties in their remainders (the random tie-breaking path), tiny
# tables and a class with only the two rows stratification needs.
CASES = [
    (10, 0.2, 0, None),
    (4454, 0.2, 42, None),
    (1001, 0.33, 7, None),
    (4454, 0.2, 42, [3425, 1029]),
    (600, 0.25, 1, [200, 200, 200]),
    (97, 0.3, 3, [50, 30, 17]),
    (70, 0.5, 11, [10] * 7),
    (23, 0.5, 5, [2, 2, 2, 2, 2, 2, 2, 2, 2, 5]),
    (343, 0.2, 0, [152, 68, 123]),
    (5000, 0.1, 123, [4990, 10]),
    (12, 0.5, 9, [2, 2, 2, 2, 2, 2]),
]


def _classes(counts: list[int], seed: int) -> np.ndarray:
    labels = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(seed).permutation(labels)


@pytest.mark.parametrize(("rows", "test_size", "seed", "counts"), CASES)
def test_the_indices_are_scikit_learns(rows, test_size, seed, counts):
    classes = None if counts is None else _classes(counts, seed)
    expected_train, expected_test = train_test_split(
        np.arange(rows), test_size=test_size, random_state=seed, stratify=classes
    )
    train, test = shuffle_split(rows, test_size, seed, classes)
    np.testing.assert_array_equal(train, expected_train)
    np.testing.assert_array_equal(test, expected_test)


def test_many_random_tables_split_as_scikit_learn_splits_them():
    rng = np.random.default_rng(2026)
    for _ in range(200):
        n_classes = int(rng.integers(2, 9))
        counts = (rng.integers(2, 60, size=n_classes)).tolist()
        rows, test_size, seed = sum(counts), float(rng.uniform(0.15, 0.5)), int(rng.integers(1e6))
        classes = _classes(counts, seed)
        expected = train_test_split(
            np.arange(rows), test_size=test_size, random_state=seed, stratify=classes
        )
        got = shuffle_split(rows, test_size, seed, classes)
        for side, want in zip(got, expected, strict=True):
            np.testing.assert_array_equal(side, want, err_msg=f"{counts} {test_size} {seed}")


def test_the_test_share_is_rounded_up_and_both_sides_are_never_empty():
    assert split_sizes(4454, 0.2) == (3563, 891)
    assert split_sizes(11, 0.5) == (5, 6)
    with pytest.raises(ValueError, match="training split would be empty"):
        split_sizes(1, 0.5)


def test_a_split_too_small_to_hold_every_class_says_so():
    with pytest.raises(ValueError, match="cannot hold each of 5 classes"):
        shuffle_split(10, 0.2, 0, np.repeat(np.arange(5), 2))
