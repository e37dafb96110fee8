"""Stage ``split``: a seeded train/test split (stratified for classification).

Identical rows never straddle the split: a row that repeats another (the same features and
label) would otherwise be learnt in training and then "predicted" in the test split, which
inflates the test metrics. Every copy goes to the side of its first occurrence. Rows of one
group (``split.group_by``: the columns that name a person, a household...) go together the
same way, so the test split measures the model on groups it has not seen.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd

from tabpipe.core.config import Params, SplitParams
from tabpipe.core.io import read_parquet, write_with
from tabpipe.core.paths import PATHS
from tabpipe.core.shuffle_split import shuffle_split
from tabpipe.core.stage import StageFailed, log, run_stage


def split_frame(
    frame: pd.DataFrame,
    target: str,
    split: SplitParams,
    *,
    classification: bool,
    identical_on: Sequence[str] | None = None,
    groups: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test rows; rows equal on ``identical_on`` (default: every column) stay together.

    ``groups``: the rows to keep together, when the caller has them already: identical rows
    on those columns (:func:`identical_groups`) joined with ``split.group_by``'s groups (the
    stage counts both in its log: one pass over the rows each, not two).
    """
    frame = frame.reset_index(drop=True)
    if groups is None:
        groups = identical_groups(frame, identical_on)
        if split.group_by:
            groups = joined(groups, named_groups(frame, split.group_by))
    stratify = frame[target] if classification and split.stratify else None
    classes = None
    if stratify is not None:
        counts = stratify.value_counts()
        rare = counts[counts < 2]
        if not rare.empty:
            raise StageFailed(
                f"cannot stratify on {target!r}: classes with fewer than 2 rows: "
                f"{rare.to_dict()} (set split.stratify: false or add data)"
            )
        # Each class as its rank among the sorted classes, the order a stratified split
        # numbers them in: the same split as on the labels themselves, without sorting
        # millions of strings.
        classes = pd.factorize(stratify, sort=True)[0]
    try:
        train_rows, test_rows = shuffle_split(len(frame), split.test_size, split.seed, classes)
    except ValueError as error:
        raise StageFailed(
            f"cannot split {len(frame)} rows: {error} (change split.test_size, add rows, or "
            "set split.stratify: false)"
        ) from None
    train_rows, test_rows = keep_identical_rows_together(train_rows, test_rows, groups)
    train, test = frame.take(train_rows), frame.take(test_rows)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def identical_groups(frame: pd.DataFrame, identical_on: Sequence[str] | None = None) -> np.ndarray:
    """One id per distinct row over ``identical_on`` (default: every column), numbered in
    order of first appearance; missing values equal each other, as in ``duplicated``.

    The ids are ``groupby(keys, dropna=False, sort=False).ngroup()``'s, built one column at
    a time: the ids so far and the next column's codes are numbered together, so the
    process holds three arrays of ids at once where pandas holds one per column (10M rows
    of the bundled data's 14 columns: 1.0 GiB above the frame against 2.6 GiB). Once every
    row is alone the other columns cannot join any two, and are skipped.

    Columns with few values go first (:func:`_sampled_distinct`): numbering a pass costs
    in proportion to how many distinct ids it makes, and a pass with few is cheap. Any order
    gives the same ids (they number the same sets of rows by first appearance); on those
    10M rows, in the stage's column order (numbers first) it took 27.1 s, fewest values
    first 17.3 s, most first 37.7 s. The ids give both what ``duplicated(keep=False)`` and
    ``duplicated()`` would.
    """
    keys = list(identical_on) if identical_on is not None else list(frame.columns)
    groups = np.zeros(len(frame), dtype=np.int64)
    count = min(len(frame), 1)
    for key in sorted(keys, key=lambda key: _sampled_distinct(frame[key])):
        if count == len(frame):
            break
        codes, values = pd.factorize(frame[key], use_na_sentinel=False)  # NaN: a value
        # Below len(frame) * (distinct values + 1): no int64 overflow under 3e9 rows.
        groups, seen = pd.factorize(groups * len(values) + codes)
        count = len(seen)
    return np.asarray(groups, dtype=np.int64)


def _sampled_distinct(column: pd.Series, sample: int = 10_000) -> int:
    """How many distinct values (missing counted as one) about ``sample`` evenly spaced rows
    of ``column`` hold: a column's rank by cardinality, from a small fraction of its rows."""
    return int(column.iloc[:: max(1, len(column) // sample)].nunique(dropna=False))


def named_groups(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """One id per value of ``columns`` (``split.group_by``); a row missing one is alone."""
    numbered = frame.groupby(list(columns), dropna=True, sort=False).ngroup()  # NaN: missing
    missing = numbered.isna().to_numpy()
    ids = np.array(numbered.fillna(-1), dtype=np.int64)  # a copy: pandas may hand out a view
    ids[missing] = ids.max(initial=-1) + 1 + np.arange(int(missing.sum()))
    return ids


def joined(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """One id per set of rows linked by sharing an id in ``first`` or in ``second`` (the
    connected components of both), numbered in order of first appearance.

    Each round gives every row the smallest label of its group in one partition, then in the
    other; it stops when no label changes: two or three rounds for people whose rows repeat
    few other rows, one round per two links of a chain of rows linked alternately by the two
    partitions. numpy and pandas only: scipy's ``connected_components`` would cost the stage
    its import (see core/shuffle_split.py).
    """
    label = pd.Series(first)
    while True:
        moved = label.groupby(second).transform("min").groupby(first).transform("min")
        if moved.equals(label):
            return pd.factorize(label)[0]
        label = moved


def repeated_rows(groups: np.ndarray) -> int:
    """How many rows repeat an earlier one (``duplicated().sum()``), from their group ids."""
    return len(groups) - (int(groups.max()) + 1 if len(groups) else 0)


def keep_identical_rows_together(
    train_rows: np.ndarray, test_rows: np.ndarray, groups: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move each copy of a repeated row to the side its first copy is on; the positions of
    the train and test rows.

    ``groups`` numbers the frame's rows by identity (:func:`identical_groups`). Rows that do
    not repeat keep their place and order, so data without duplicates is split exactly as
    ``train_test_split`` splits it; a moved row goes after the rows of its new side, in the
    order of its old one. Positions, not frames: each side's rows are then taken from the
    frame once (on 10M rows, dropping a few moved rows from a side and appending them copied
    every column of it again, about 4 s).
    """
    if repeated_rows(groups) == 0:
        return train_rows, test_rows
    in_test = np.zeros(len(groups), dtype=bool)
    in_test[test_rows] = True
    # The side of each group's first row (the first in the frame's order).
    side = pd.Series(in_test).groupby(groups).transform("first").to_numpy(dtype=bool)
    stays_train, stays_test = ~side[train_rows], side[test_rows]
    return (
        np.concatenate([train_rows[stays_train], test_rows[~stays_test]]),
        np.concatenate([test_rows[stays_test], train_rows[~stays_train]]),
    )


def _body(params: Params) -> None:
    frame = read_parquet(PATHS.validated)
    model_view = [*params.features.all, params.data.target]
    log("split", f"splitting {len(frame)} rows")
    identical = identical_groups(frame, model_view)
    group_by = params.split.group_by
    named = named_groups(frame, group_by) if group_by else None
    train, test = split_frame(
        frame,
        params.data.target,
        params.split,
        classification=params.data.task.is_classification,
        identical_on=model_view,
        groups=identical if named is None else joined(identical, named),
    )
    repeated = repeated_rows(identical)
    together = f"; {repeated} repeated row(s) kept on their first copy's side" if repeated else ""
    if named is not None:
        groups = int(named.max(initial=-1)) + 1
        together += f"; {groups} groups of {', '.join(group_by)} each on one side"
    log(
        "split",
        f"{len(train)} train rows, {len(test)} test rows (seed {params.split.seed}){together}",
    )
    write_with(PATHS.train_split, lambda path: train.to_parquet(path, index=False))
    log("split", f"wrote {PATHS.train_split}")
    write_with(PATHS.test_split, lambda path: test.to_parquet(path, index=False))


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage("split", __doc__ or "", _body, argv)


if __name__ == "__main__":
    sys.exit(main())
