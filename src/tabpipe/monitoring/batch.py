"""A new batch of rows checked against the data contract, for monitoring and ingestion.

A batch is a slice of the table the contract describes, so it gets the contract's column
rules (names, types, ranges, domains, null shares) but not its table-level row floor
(``min_rows``) or share of duplicate rows (``max_duplicate_fraction``), which apply to the
whole training table. Monitoring batches may come
without the label; feedback and ingested batches must carry it.

A file that is not a table at all (missing, empty, a folder, compressed, binary) or a table
without rows is not data that breaks the contract: the check cannot run on it, so it is an
:class:`~tabpipe.core.io.InputError` (exit status 1, "could not run"), never schema skew.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from tabpipe.core.config import Params
from tabpipe.core.contract import ValidationReport, check, load_contract, without_columns
from tabpipe.core.io import InputError, read_table

TABLE_CHECKS = frozenset({"min_rows", "max_duplicate_fraction"})


@dataclass(frozen=True)
class Batch:
    path: Path
    report: ValidationReport
    frame: pd.DataFrame  # as read
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
    """Read ``path`` and check it against the contract; a bad batch is reported, not raised.

    Raises InputError when there is nothing to check: the file is not a readable table, or
    has a header and no rows.
    """
    contract_path = params.data.contract
    schema = load_contract(contract_path)
    frame = read_table(path)
    if frame.empty:
        raise InputError(f"{path}: the file has a header but no rows: there is nothing to check")
    labelled = require_label or params.data.target in frame.columns
    contract = batch_contract(schema, params.data.target, labelled=labelled)
    report, valid = check(frame, contract, source=str(path), contract=str(contract_path))
    return Batch(path, report, frame, valid, labelled)
