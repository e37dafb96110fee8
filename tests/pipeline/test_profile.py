"""Stage profile: the drift reference, binned from the training split, deterministic.

The histogram helpers are shared with the drift check, so their bucket rules are pinned
here: half-open bins, the last one closed, values outside the reference range counted
below or above it, missing values counted on their own.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tabpipe.core.config import FeatureParams
from tabpipe.core.paths import PATHS
from tabpipe.pipeline import profile, split, validate
from tabpipe.pipeline.profile import (
    MISSING,
    arrow_readable,
    bin_counts,
    bin_edges,
    category_counts,
    profile_frame,
    profile_table,
    read_and_profile,
)

OPTIONS = {"bins": 10, "histogram": "quantiles", "source": "x"}


def test_bins_are_half_open_with_a_closed_last_bin_and_outer_buckets():
    values = np.array([0.0, 1.0, 2.0, 3.0, 4.0, -1.0, 5.0, np.nan, np.inf, -np.inf])
    counts = bin_counts(values, [0.0, 2.0, 4.0])
    assert counts == {"below": 2, "bins": [2, 3], "above": 2, "missing": 1}


def test_a_constant_reference_has_one_point_bin():
    values = np.array([7.0, 7.0, 6.0, 8.0, 8.0])
    assert bin_counts(values, [7.0]) == {"below": 1, "bins": [2], "above": 2, "missing": 0}


def test_quantile_edges_merge_ties_and_standard_edges_are_equal_width():
    skewed = np.array([0.0] * 60 + list(range(1, 41)), dtype=float)
    quantiles = bin_edges(skewed, 10, "quantiles")
    assert quantiles == sorted(set(quantiles)) and quantiles[0] == 0.0 and quantiles[-1] == 40.0
    assert len(quantiles) < 11, "the repeated zero edges are merged"
    standard = bin_edges(skewed, 4, "standard")
    assert standard == [0.0, 10.0, 20.0, 30.0, 40.0]
    assert bin_edges(np.array([np.nan, np.nan]), 10, "quantiles") == []


def test_categories_are_counted_with_missing_as_its_own_category():
    counts = category_counts(pd.Series(["a", "b", None, "a", np.nan]))
    assert counts == {MISSING: 2, "a": 2, "b": 1}


def test_the_profile_covers_every_feature_and_counts_every_row(raw, params):
    result = profile_frame(raw, params.features, bins=10, histogram="quantiles", source="raw")
    assert set(result["features"]) == set(params.features.all)
    for name in params.features.numeric:
        entry = result["features"][name]
        assert entry["kind"] == "numeric"
        total = entry["below"] + sum(entry["bins"]) + entry["above"] + entry["missing"]
        assert total == len(raw), name
        assert entry["below"] == entry["above"] == 0, "the reference spans its own range"
    for name in params.features.categorical:
        assert sum(result["features"][name]["counts"].values()) == len(raw), name


@pytest.mark.usefixtures("project")
def test_the_stage_writes_the_same_profile_twice(params):
    assert validate.main([]) == 0 and split.main([]) == 0
    assert profile.main([]) == 0
    first = PATHS.reference_profile.read_bytes()
    assert profile.main([]) == 0
    assert PATHS.reference_profile.read_bytes() == first, "dvc repro must stay a no-op"
    written = json.loads(first)
    assert written["rows"] == len(pd.read_parquet(PATHS.train_split))
    assert written["histogram"] == params.monitor.drift.histogram


def awkward() -> tuple[pd.DataFrame, FeatureParams]:
    """Values where a reader could label or convert differently from pandas."""
    frame = pd.DataFrame(
        {
            "n": [1.5, np.nan, -np.inf, np.inf, 0.0, -0.0, 2.0**60, 7.25] * 5,
            "i": pd.array([1, None, 3, 2**62, -5, 0, 9, None] * 5, dtype="Int64"),
            "c": ["a", None, "", "b", "\u00e9t\u00e9", MISSING, "a", " a"] * 5,
        }
    )
    return frame, FeatureParams(numeric=["n", "i"], categorical=["c"])


def in_chunks(frame: pd.DataFrame) -> pa.Table:
    """The frame as an Arrow table of several chunks, the later ones sliced (offsets)."""
    whole = pa.Table.from_pandas(frame, preserve_index=False)
    return pa.concat_tables([whole.slice(0, 7), whole.slice(7, 20), whole.slice(27)])


def test_the_arrow_reader_profiles_exactly_as_pandas_does(raw, params):
    assert arrow_readable(pa.Table.from_pandas(raw), params.features)
    bundled = profile_table(pa.Table.from_pandas(raw), params.features, **OPTIONS)
    assert bundled == profile_frame(raw, params.features, **OPTIONS)
    frame, features = awkward()
    table = in_chunks(frame)
    assert table.column("i").num_chunks == 3 and table.column("i").null_count == 10
    assert profile_table(table, features, **OPTIONS) == profile_frame(frame, features, **OPTIONS)


def test_a_column_arrow_would_label_differently_is_read_with_pandas(tmp_path):
    frame, features = awkward()
    frame["c"] = frame["c"].astype("category")  # Arrow: a dictionary, not a string
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    assert not arrow_readable(pa.Table.from_pandas(frame), features)
    rows, result = read_and_profile(path, features, **OPTIONS)
    assert rows == len(frame)
    assert result == profile_frame(pd.read_parquet(path), features, **OPTIONS)


def coded() -> tuple[pd.DataFrame, FeatureParams]:
    """Categories as onboarded tables often hold them: integer codes and booleans."""
    frame = pd.DataFrame(
        {
            "n": [0.5, 1.5, 2.5, np.nan] * 4,
            "sex": [1, 2, 2, 1] * 4,
            "grade": np.array([3, -1, 0, 2**40] * 4, dtype=np.int64),
            "small": np.array([7, 7, 8, 9] * 4, dtype=np.uint8),
            "smoker": [True, False, False, True] * 4,
        }
    )
    return frame, FeatureParams(numeric=["n"], categorical=["sex", "grade", "small", "smoker"])


def test_integer_and_boolean_codes_are_counted_by_arrow_with_pandas_labels(tmp_path):
    frame, features = coded()
    path = tmp_path / "codes.parquet"
    frame.to_parquet(path)
    table = pq.read_table(path)
    assert arrow_readable(table, features)
    rows, result = read_and_profile(path, features, **OPTIONS)
    assert rows == len(frame)
    assert result == profile_frame(pd.read_parquet(path), features, **OPTIONS)
    assert result["features"]["sex"]["counts"] == {"1": 8, "2": 8}
    assert result["features"]["smoker"]["counts"] == {"False": 8, "True": 8}


def test_codes_with_a_missing_value_are_read_with_pandas_and_labelled_alike(tmp_path):
    frame, features = coded()
    # Nullable codes: pandas restores Int64/boolean from the file's metadata; a file
    # written without it (another tool) reads back as float codes, labelled "1.0".
    frame["sex"] = pd.array([1, None, 2, 1] * 4, dtype="Int64")
    frame["smoker"] = pd.array([True, None, False, True] * 4, dtype="boolean")
    for name, table in {
        "with pandas metadata": pa.Table.from_pandas(frame, preserve_index=False),
        "without it": pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(),
    }.items():
        path = tmp_path / f"{name}.parquet"
        pq.write_table(table, path)
        assert not arrow_readable(pq.read_table(path), features), name
        _, result = read_and_profile(path, features, **OPTIONS)
        assert result == profile_frame(pd.read_parquet(path), features, **OPTIONS), name
        assert result["features"]["sex"]["counts"][MISSING] == 4, name


@pytest.mark.usefixtures("project")
def test_the_stage_profiles_the_bundled_split_without_loading_pandas(params):
    """pandas would cost this stage more CPU to load than its whole profile takes."""
    assert validate.main([]) == 0 and split.main([]) == 0
    probe = "import sys; from tabpipe.pipeline import profile; "
    probe += "code = profile.main([]); print('exit', code, 'pandas', 'pandas' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == "exit 0 pandas False", done.stderr
    drift = params.monitor.drift
    expected = profile_frame(
        pd.read_parquet(PATHS.train_split),
        params.features,
        bins=drift.bins,
        histogram=drift.histogram,
        source=str(PATHS.train_split),
    )
    assert json.loads(PATHS.reference_profile.read_text()) == expected
