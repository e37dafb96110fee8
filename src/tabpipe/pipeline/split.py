"""Stage ``split``: a seeded train/test split (stratified for classification)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pandas as pd
from sklearn.model_selection import train_test_split

from tabpipe.core.config import Params, SplitParams
from tabpipe.core.io import write_with
from tabpipe.core.paths import PATHS
from tabpipe.core.stage import StageFailed, log, run_stage


def split_frame(
    frame: pd.DataFrame, target: str, split: SplitParams, *, classification: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    stratify = frame[target] if classification and split.stratify else None
    if stratify is not None:
        counts = stratify.value_counts()
        rare = counts[counts < 2]
        if not rare.empty:
            raise StageFailed(
                f"cannot stratify on {target!r}: classes with fewer than 2 rows: "
                f"{rare.to_dict()} (set split.stratify: false or add data)"
            )
    train, test = train_test_split(
        frame, test_size=split.test_size, random_state=split.seed, stratify=stratify
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _body(params: Params) -> None:
    frame = pd.read_parquet(PATHS.validated)
    train, test = split_frame(
        frame, params.data.target, params.split, classification=params.data.task.is_classification
    )
    log("split", f"{len(train)} train rows, {len(test)} test rows (seed {params.split.seed})")
    write_with(PATHS.train_split, lambda path: train.to_parquet(path, index=False))
    write_with(PATHS.test_split, lambda path: test.to_parquet(path, index=False))


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage("split", __doc__ or "", _body, argv)


if __name__ == "__main__":
    sys.exit(main())
