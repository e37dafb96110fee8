"""The seeded train/test row split, index for index what scikit-learn's ``train_test_split`` gives.

Why not call scikit-learn: the split stage needs nothing else from it, and importing
``sklearn.model_selection`` costs a stage process about 1.0 s of CPU (``sklearn`` pulls in
scipy), three quarters of the stage's start-up and the largest single cost of a cold
``dvc repro`` (docs/benchmarks.md). This module uses numpy alone and draws the same random
numbers in the same order as scikit-learn 1.x's ``ShuffleSplit`` and
``StratifiedShuffleSplit`` (including ``_approximate_mode``'s tie-breaking), so a project's
committed split, and every metric computed on it, stays exactly what it was.
``tests/core/test_shuffle_split.py`` compares the indices with scikit-learn's on many sizes,
seeds and class mixes: a scikit-learn release that changes its algorithm fails that test
rather than moving a project's split silently.
"""

from __future__ import annotations

import math

import numpy as np


def split_sizes(n_rows: int, test_size: float) -> tuple[int, int]:
    """Rows in the training and the test split for a test share in (0, 1): test rounded up."""
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size}")
    n_test = math.ceil(test_size * n_rows)
    n_train = n_rows - n_test
    if n_train <= 0:
        raise ValueError(
            f"with {n_rows} rows and test_size {test_size} the training split would be empty"
        )
    return n_train, n_test


def shuffle_split(
    n_rows: int, test_size: float, seed: int, classes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of the training and the test split.

    ``classes``: one integer label per row to stratify on (each class keeps its share in
    both splits), or None for a plain shuffle.
    """
    n_train, n_test = split_sizes(n_rows, test_size)
    rng = np.random.RandomState(seed)
    if classes is None:
        permutation = rng.permutation(n_rows)
        return permutation[n_test : n_test + n_train], permutation[:n_test]
    return _stratified(np.asarray(classes), n_train, n_test, rng)


def _stratified(
    classes: np.ndarray, n_train: int, n_test: int, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    _, class_of_row, class_counts = np.unique(classes, return_inverse=True, return_counts=True)
    n_classes = len(class_counts)
    if class_counts.min() < 2:
        raise ValueError("every class needs at least 2 rows to stratify")
    if n_train < n_classes or n_test < n_classes:
        raise ValueError(
            f"a split of {n_train} training and {n_test} test rows cannot hold each of "
            f"{n_classes} classes"
        )
    rows_by_class = np.split(np.argsort(class_of_row, kind="stable"), np.cumsum(class_counts)[:-1])
    train_per_class = _apportion(class_counts, n_train, rng)
    test_per_class = _apportion(class_counts - train_per_class, n_test, rng)
    train: list[np.ndarray] = []
    test: list[np.ndarray] = []
    for rows, n_class_train, n_class_test in zip(
        rows_by_class, train_per_class, test_per_class, strict=True
    ):
        shuffled = rows.take(rng.permutation(len(rows)), mode="clip")
        train.append(shuffled[:n_class_train])
        test.append(shuffled[n_class_train : n_class_train + n_class_test])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _apportion(counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """``n_draws`` shared among classes in proportion to ``counts``: each gets its share
    rounded down, and the rows left over go to the largest remainders, ties drawn at random."""
    exact = counts / counts.sum() * n_draws
    shares = np.floor(exact)
    left = int(n_draws - shares.sum())
    if left > 0:
        remainder = exact - shares
        for value in np.sort(np.unique(remainder))[::-1]:
            (tied,) = np.where(remainder == value)
            now = min(len(tied), left)
            shares[rng.choice(tied, size=now, replace=False)] += 1
            left -= now
            if left == 0:
                break
    return shares.astype(int)
