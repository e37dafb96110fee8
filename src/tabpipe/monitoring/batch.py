"""A new batch of rows checked against the data contract, for monitoring and ingestion.

A batch is a slice of the table the contract describes, so it gets the contract's column
rules (names, types, ranges, domains, null shares) but not its table-level row floor
(``min_rows``), which applies to the whole training table. Monitoring batches may come
without the label; feedback and ingested batches must carry it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from tabpipe.core.config import Params
from tabpipe.core.contract import (
    Failure,
    ValidationReport,
    check,
    load_contract,
    unreadable,
    without_columns,
)
from tabpipe.core.io import InputError, read_table

TABLE_CHECKS = frozenset({"min_rows"})


@dataclass(frozen=True)
class Batch:
    path: Path
    report: ValidationReport
    frame: pd.DataFrame | None  # as read (None if unreadable)
    valid: pd.DataFrame | None  # coerced by the contract (None if it breaks the contract)
    labelled: bool

    @property
    def ok(self) -> bool:
        return self.report.ok


def batch_contract(
    schema: pa.DataFrameSchema, target: str, *, labelled: bool
) -> pa.DataFrameSchema:
    """The contract for a slice of the table: no row floor; no label column if unlabelled."""
    sliced = copy.deepcopy(schema)
    sliced.checks = [c for c in sliced.checks if c.name not in TABLE_CHECKS]
    return sliced if labelled else without_columns(sliced, [target])


def check_batch(path: Path, params: Params, *, require_label: bool) -> Batch:
    """Read ``path`` and check it against the contract; a bad batch is reported, not raised."""
    contract_path = params.data.contract
    schema = load_contract(contract_path)
    try:
        frame = read_table(path)
    except InputError as exc:
        report = unreadable(str(path), str(contract_path), str(exc))
        return Batch(path, report, None, None, labelled=False)
    labelled = require_label or params.data.target in frame.columns
    if frame.empty:
        report = ValidationReport(
            str(path),
            str(contract_path),
            0,
            frame.shape[1],
            [Failure(None, "not_empty", 1, ["0 rows"])],
        )
        return Batch(path, report, frame, None, labelled)
    contract = batch_contract(schema, params.data.target, labelled=labelled)
    report, valid = check(frame, contract, source=str(path), contract=str(contract_path))
    return Batch(path, report, frame, valid, labelled)
