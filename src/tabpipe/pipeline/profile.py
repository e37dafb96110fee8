"""Stage ``profile``: a compact profile of the training split, the reference for drift checks.

For each numeric feature: histogram bin edges taken from the training split (quantiles or
equal width, as TFDV's ``HistogramSelection``), the count in each bin and the count of
missing values. For each categorical feature: the count of each category, with missing
values counted as the category ``(missing)``. The profile is a small JSON file committed
to git (``cache: false``), so a monitoring job on a fresh clone compares new data with the
training data without the DVC cache.

The functions here are shared with :mod:`tabpipe.monitoring.drift`, which bins a new batch with the
reference's own edges so that both histograms have exactly the same buckets.

The stage reads the split with pyarrow and counts with NumPy, without pandas: loading
pandas costs a stage process more CPU than the whole profile of a small table, and a stage
that trains nothing should start in under half a second of CPU. The result is the one
:func:`profile_frame` gives on the same rows read with pandas; a column that pandas could
label differently (a pandas category, a date, integer or boolean codes with a missing
value; :func:`arrow_readable`) sends the stage to the pandas reader, so the two can never
disagree on how such a value is labelled.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from tabpipe.core.config import FeatureParams, Params
from tabpipe.core.io import read_parquet, write_json
from tabpipe.core.paths import PATHS
from tabpipe.core.stage import log, run_stage

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

MISSING = "(missing)"
PROFILE_VERSION = 1


def bin_edges(
    values: np.ndarray, bins: int, histogram: Literal["quantiles", "standard"]
) -> list[float]:
    """Increasing, distinct bin edges spanning the finite values (one edge if constant).

    Quantile edges of data with ties repeat; repeated edges are merged, so a feature with
    few distinct values gets fewer, wider bins rather than empty ones.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return []
    if histogram == "quantiles":
        raw = np.quantile(finite, np.linspace(0.0, 1.0, bins + 1))
    else:
        raw = np.linspace(finite.min(), finite.max(), bins + 1)
    return [float(edge) for edge in np.unique(raw)]


def bin_counts(values: np.ndarray, edges: Sequence[float]) -> dict[str, Any]:
    """Counts per bucket: ``below`` the first edge, each bin, ``above`` the last, ``missing``.

    Bins are ``[e_i, e_i+1)`` except the last, which includes its upper edge; a single edge
    is one point bin ``[e_0, e_0]``. NaN is missing; -inf and +inf fall below and above.
    Without edges (the reference had no values at all) every value is ``above``.
    """
    missing = np.isnan(values)
    present = values[~missing]
    if not edges:
        return {"below": 0, "bins": [], "above": int(present.size), "missing": int(missing.sum())}
    edge_array = np.asarray(edges, dtype=np.float64)
    if edge_array.size == 1:
        index = np.where(present < edge_array[0], -1, np.where(present > edge_array[0], 1, 0))
        n_inner = 1
    else:
        n_inner = edge_array.size - 1
        index = np.searchsorted(edge_array, present, side="right") - 1
        index[present == edge_array[-1]] = n_inner - 1
    inner = index[(index >= 0) & (index < n_inner)]
    return {
        "below": int((index < 0).sum()),
        "bins": [int(c) for c in np.bincount(inner, minlength=n_inner)],
        "above": int((index >= n_inner).sum()),
        "missing": int(missing.sum()),
    }


def _is_missing(key: object) -> bool:
    return key is None or (isinstance(key, float) and math.isnan(key))


def tally(
    pairs: Iterable[tuple[object, int]], is_missing: Callable[[object], bool] = _is_missing
) -> dict[str, int]:
    """Counts keyed by each category as a string, sorted; missing keys count as ``(missing)``.

    Keys that print alike (``1`` and ``"1"`` in one column) are one category.
    """
    counts: dict[str, int] = {}
    for key, count in pairs:
        label = MISSING if is_missing(key) else str(key)
        counts[label] = counts.get(label, 0) + int(count)
    return dict(sorted(counts.items()))


def category_counts(values: pd.Series) -> dict[str, int]:
    """Count of each category (as a string); missing values are counted as ``(missing)``."""
    import pandas as pd

    return tally(values.value_counts(dropna=False, sort=False).items(), pd.isna)


def numeric_values(series: pd.Series) -> np.ndarray:
    """A column as float64; anything not a number (e.g. a stray string) becomes NaN."""
    import pandas as pd

    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _arrow_numeric(column: pa.ChunkedArray) -> np.ndarray:
    """The column as float64 with NaN for nulls, without loading pandas.

    pyarrow's own ways to NumPy (``to_numpy``, or ``fill_null`` with a Python NaN) load
    pandas to convert; DLPack and the data buffer (Arrow's documented layout: validity
    bitmap, then the values) do not.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = []
    # safe=False: an integer above 2**53 rounds to the nearest float, as pandas rounds it.
    for chunk in column.cast(pa.float64(), safe=False).chunks:
        if chunk.null_count == 0:
            parts.append(np.from_dlpack(chunk))
            continue
        data = np.frombuffer(chunk.buffers()[1], dtype=np.float64)
        values = data[chunk.offset : chunk.offset + len(chunk)].copy()
        values[np.from_dlpack(pc.cast(chunk.is_null(), pa.uint8())).astype(bool)] = np.nan
        parts.append(values)
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)


def _arrow_category_counts(column: pa.ChunkedArray) -> dict[str, int]:
    import pyarrow.compute as pc

    pairs = pc.value_counts(column)
    return tally(
        zip(pairs.field("values").to_pylist(), pairs.field("counts").to_pylist(), strict=True)
    )


def arrow_readable(table: pa.Table, features: FeatureParams) -> bool:
    """Whether :func:`profile_table` labels every feature of ``table`` as pandas would.

    Numbers are integers or floats (read as float64 by both). Categories are plain
    strings, whose label is the string itself, or integer or boolean codes without a
    missing value (``1``, ``True``: pandas keeps their type, so the labels are the same;
    with a missing value pandas may read integer codes as floats, labelled ``1.0``).
    Anything else goes through pandas.
    """
    import pyarrow as pa

    def numeric(kind: pa.DataType) -> bool:
        return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))

    def text(kind: pa.DataType) -> bool:
        return bool(
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_string_view(kind)
        )

    def category(column: pa.ChunkedArray) -> bool:
        codes = pa.types.is_integer(column.type) or pa.types.is_boolean(column.type)
        return text(column.type) or bool(codes and column.null_count == 0)

    names = set(table.schema.names)
    return all(
        name in names and numeric(table.column(name).type) for name in features.numeric
    ) and all(name in names and category(table.column(name)) for name in features.categorical)


def numeric_summary(values: np.ndarray) -> dict[str, float | None]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"mean": None, "median": None, "missing_share": 1.0 if values.size else None}
    return {
        "mean": round(float(finite.mean()), 6),
        "median": round(float(np.median(finite)), 6),
        "missing_share": round(float(np.isnan(values).mean()), 6),
    }


def profile_columns(
    features: FeatureParams,
    numeric: Callable[[str], np.ndarray],
    categorical: Callable[[str], dict[str, int]],
    *,
    rows: int,
    bins: int,
    histogram: Literal["quantiles", "standard"],
    source: str,
) -> dict[str, Any]:
    """The reference profile from each numeric feature's values and each category's count,
    as ``numeric(name)`` and ``categorical(name)`` read them from the table."""
    profiled: dict[str, Any] = {}
    for name in features.numeric:
        values = numeric(name)
        edges = bin_edges(values, bins, histogram)
        profiled[name] = {
            "kind": "numeric",
            "edges": edges,
            **bin_counts(values, edges),
            **numeric_summary(values),
        }
    for name in features.categorical:
        profiled[name] = {"kind": "categorical", "counts": categorical(name)}
    return {
        "version": PROFILE_VERSION,
        "source": source,
        "rows": rows,
        "histogram": histogram,
        "bins": bins,
        "features": profiled,
    }


def profile_frame(frame: pd.DataFrame, features: FeatureParams, **options: Any) -> dict[str, Any]:
    """The reference profile of ``frame``: a plain dict, deterministic for the same data.

    ``options``: :func:`profile_columns`' ``bins``, ``histogram`` and ``source``.
    """
    return profile_columns(
        features,
        lambda name: numeric_values(frame[name]),
        lambda name: category_counts(frame[name]),
        rows=len(frame),
        **options,
    )


def profile_table(table: pa.Table, features: FeatureParams, **options: Any) -> dict[str, Any]:
    """:func:`profile_frame` of an Arrow table that :func:`arrow_readable` accepts."""
    return profile_columns(
        features,
        lambda name: _arrow_numeric(table.column(name)),
        lambda name: _arrow_category_counts(table.column(name)),
        rows=table.num_rows,
        **options,
    )


def read_and_profile(
    path: Path, features: FeatureParams, **options: Any
) -> tuple[int, dict[str, Any]]:
    """The profile of the Parquet file at ``path``, read with pyarrow where it can be."""
    import pyarrow.parquet as pq

    # ParquetFile.read, not pq.read_table: the dataset reader behind read_table loads pandas.
    table = pq.ParquetFile(path).read(columns=[*features.all])
    if arrow_readable(table, features):
        return table.num_rows, profile_table(table, features, **options)
    frame = read_parquet(path)
    return len(frame), profile_frame(frame, features, **options)


def _body(params: Params) -> None:
    log("profile", f"profiling {len(params.features.all)} features of {PATHS.train_split}")
    drift = params.monitor.drift
    rows, profile = read_and_profile(
        PATHS.train_split,
        params.features,
        bins=drift.bins,
        histogram=drift.histogram,
        source=str(PATHS.train_split),
    )
    write_json(PATHS.reference_profile, profile)
    log(
        "profile",
        f"{len(params.features.all)} features of {rows} training rows "
        f"({drift.histogram} bins, up to {drift.bins}) -> {PATHS.reference_profile}",
    )


def _load(params: Params) -> None:
    import pyarrow.compute
    import pyarrow.parquet  # noqa: F401


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage("profile", __doc__ or "", _body, argv, load=_load)


if __name__ == "__main__":
    sys.exit(main())
