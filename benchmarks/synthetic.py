"""Synthetic rows drawn from the bundled dataset's distribution, written in chunks.

Each synthetic row is a source row picked at random (with replacement, seeded) whose numeric
values are jittered: multiplied by ``1 + N(0, jitter)``, rounded back to whole numbers where
the source column holds only whole numbers, and clipped to the contract's ``in_range`` bounds.
Missing values stay missing (NaN times anything is NaN) and categories and labels are copied,
so missing-value rates, the category mix and the label balance follow the source, and every
row still satisfies the contract. Chunks are appended to a Parquet file one at a time, so
generating 10M rows needs memory for one chunk, not for the table.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tabpipe.core.contract import load_contract

CHUNK_ROWS = 500_000
JITTER = 0.05  # relative standard deviation of the multiplicative noise on numeric values


@dataclass(frozen=True)
class Bounds:
    low: float | None
    high: float | None


def contract_bounds(contract: Path) -> dict[str, Bounds]:
    """The ``in_range`` bounds the contract sets on each column (columns without one omitted)."""
    bounds = {}
    for name, column in load_contract(contract).columns.items():
        for check in column.checks:
            if check.name == "in_range":
                stats = check.statistics
                bounds[str(name)] = Bounds(stats.get("min_value"), stats.get("max_value"))
    return bounds


def enumerated_columns(contract: Path) -> set[str]:
    """Columns the contract lists the values of (``isin``: integer codes, class labels) or
    types as booleans: copied like text, since jitter would leave their domain."""
    names = set()
    for name, column in load_contract(contract).columns.items():
        if str(column.dtype) in {"bool", "boolean"} or any(c.name == "isin" for c in column.checks):
            names.add(str(name))
    return names


def copied_columns(target: str, contract: Path) -> set[str]:
    """The columns synthetic rows copy from their source row: the label and the columns the
    contract enumerates (integer codes jittered to 1909 fail ``isin([2007, 2008, 2009])``)."""
    return {target} | enumerated_columns(contract)


def numeric_columns(source: pd.DataFrame) -> list[str]:
    return [
        str(c)
        for c in source.columns
        if pd.api.types.is_numeric_dtype(source[c]) and not pd.api.types.is_bool_dtype(source[c])
    ]


def chunks(
    source: pd.DataFrame,
    rows: int,
    *,
    bounds: dict[str, Bounds],
    seed: int = 0,
    chunk_rows: int = CHUNK_ROWS,
    jitter: float = JITTER,
    keep: Collection[str] = (),
) -> Iterator[pd.DataFrame]:
    """Yield ``rows`` synthetic rows in frames of at most ``chunk_rows`` rows.

    Numeric columns are jittered, except those in ``keep`` (the label: a 0/1 class label
    stored as numbers must stay a class), which are copied like the text columns.
    """
    if rows < 0 or chunk_rows <= 0:
        raise ValueError(f"rows must be >= 0 and chunk_rows > 0, got {rows} and {chunk_rows}")
    rng = np.random.default_rng(seed)
    numeric = [name for name in numeric_columns(source) if name not in keep]
    whole = {c for c in numeric if np.all(np.mod(source[c].dropna().to_numpy(), 1) == 0)}
    done = 0
    while done < rows:
        n = min(chunk_rows, rows - done)
        frame = source.iloc[rng.integers(0, len(source), size=n)].reset_index(drop=True)
        for name in numeric:
            values = frame[name].to_numpy(dtype=np.float64)
            values = values * (1.0 + rng.normal(0.0, jitter, size=n))
            if name in whole:
                values = np.round(values)
            b = bounds.get(name)
            if b is not None:
                values = np.clip(values, b.low, b.high)
            frame[name] = values
        yield frame
        done += n


def write_parquet(
    source: pd.DataFrame,
    rows: int,
    destination: Path,
    *,
    bounds: dict[str, Bounds],
    seed: int = 0,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int], None] | None = None,
    keep: Collection[str] = (),
) -> int:
    """Write ``rows`` synthetic rows to ``destination`` chunk by chunk; return the row count.

    ``progress`` is called with the number of rows written so far after each chunk.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    writer: pq.ParquetWriter | None = None
    try:
        for frame in chunks(
            source, rows, bounds=bounds, seed=seed, chunk_rows=chunk_rows, keep=keep
        ):
            schema = writer.schema if writer is not None else None
            table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(destination, table.schema)
            writer.write_table(table)
            written += len(frame)
            if progress is not None:
                progress(written)
    finally:
        if writer is not None:
            writer.close()
    return written


def write_for_project(
    root: Path,
    rows: int,
    destination: Path,
    *,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> int:
    """``rows`` synthetic rows drawn from the project at ``root`` (its params.yaml's raw data,
    bounded by its contract, target and enumerated columns copied) into ``destination``."""
    from tabpipe.core.config import load_params
    from tabpipe.core.io import read_table

    params = load_params(root / "params.yaml")
    return write_parquet(
        read_table(root / params.data.raw),
        rows,
        destination,
        bounds=contract_bounds(root / params.data.contract),
        seed=seed,
        progress=progress,
        keep=copied_columns(params.data.target, root / params.data.contract),
    )
