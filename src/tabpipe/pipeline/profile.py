"""Stage ``profile``: a compact profile of the training split, the reference for drift checks.

For each numeric feature: histogram bin edges taken from the training split (quantiles or
equal width, as TFDV's ``HistogramSelection``), the count in each bin and the count of
missing values. For each categorical feature: the count of each category, with missing
values counted as the category ``(missing)``. The profile is a small JSON file committed
to git (``cache: false``), so a monitoring job on a fresh clone compares new data with the
training data without the DVC cache.

The functions here are shared with :mod:`tabpipe.monitoring.drift`, which bins a new batch with the
reference's own edges so that both histograms have exactly the same buckets.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from tabpipe.core.config import FeatureParams, Params
from tabpipe.core.io import write_json
from tabpipe.core.paths import PATHS
from tabpipe.core.stage import log, run_stage

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


def category_counts(values: pd.Series) -> dict[str, int]:
    """Count of each category (as a string); missing values are counted as ``(missing)``."""
    counts: dict[str, int] = {}
    for key, count in values.value_counts(dropna=False, sort=False).items():
        label = MISSING if pd.isna(key) else str(key)
        counts[label] = counts.get(label, 0) + int(count)
    return dict(sorted(counts.items()))


def numeric_values(series: pd.Series) -> np.ndarray:
    """A column as float64; anything not a number (e.g. a stray string) becomes NaN."""
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def numeric_summary(values: np.ndarray) -> dict[str, float | None]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"mean": None, "median": None, "missing_share": 1.0 if values.size else None}
    return {
        "mean": round(float(finite.mean()), 6),
        "median": round(float(np.median(finite)), 6),
        "missing_share": round(float(np.isnan(values).mean()), 6),
    }


def profile_frame(
    frame: pd.DataFrame,
    features: FeatureParams,
    *,
    bins: int,
    histogram: Literal["quantiles", "standard"],
    source: str,
) -> dict[str, Any]:
    """The reference profile of ``frame``: a plain dict, deterministic for the same data."""
    profiled: dict[str, Any] = {}
    for name in features.numeric:
        values = numeric_values(frame[name])
        edges = bin_edges(values, bins, histogram)
        profiled[name] = {
            "kind": "numeric",
            "edges": edges,
            **bin_counts(values, edges),
            **numeric_summary(values),
        }
    for name in features.categorical:
        profiled[name] = {"kind": "categorical", "counts": category_counts(frame[name])}
    return {
        "version": PROFILE_VERSION,
        "source": source,
        "rows": len(frame),
        "histogram": histogram,
        "bins": bins,
        "features": profiled,
    }


def _body(params: Params) -> None:
    train = pd.read_parquet(PATHS.train_split)
    log("profile", f"profiling {len(params.features.all)} features of {len(train)} training rows")
    drift = params.monitor.drift
    profile = profile_frame(
        train,
        params.features,
        bins=drift.bins,
        histogram=drift.histogram,
        source=str(PATHS.train_split),
    )
    write_json(PATHS.reference_profile, profile)
    log(
        "profile",
        f"{len(params.features.all)} features of {len(train)} training rows "
        f"({drift.histogram} bins, up to {drift.bins}) -> {PATHS.reference_profile}",
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage("profile", __doc__ or "", _body, argv)


if __name__ == "__main__":
    sys.exit(main())
