"""A batch is checked with the contract's column rules, not the table's row floor."""

from __future__ import annotations

import pandas as pd
import pytest

from tabpipe.core.config import Params
from tabpipe.core.io import InputError
from tabpipe.monitoring.batch import check_batch


def complete_rows(raw: pd.DataFrame, params: Params, rows: int = 20) -> pd.DataFrame:
    """Rows with every feature present: a 20-row batch taken from the top of a table can
    hold more nulls than the contract's max_null_fraction allows (penguins: 35%)."""
    return raw.dropna(subset=params.features.all).head(rows)


def test_a_small_batch_passes_although_the_table_needs_more_rows(project, raw, params):
    complete_rows(raw, params).to_csv(project / "b.csv", index=False)
    batch = check_batch(project / "b.csv", params, require_label=True)
    assert batch.ok and batch.labelled and len(batch.valid) == 20


def test_the_label_is_optional_for_monitoring_and_required_for_feedback(project, raw, params):
    batch = complete_rows(raw, params).drop(columns=[params.data.target])
    batch.to_csv(project / "b.csv", index=False)
    assert check_batch(project / "b.csv", params, require_label=False).ok
    required = check_batch(project / "b.csv", params, require_label=True)
    assert not required.ok
    assert [f.column for f in required.report.failures] == [params.data.target]


def test_an_empty_or_unreadable_batch_cannot_be_checked_and_says_so(project, raw, params):
    """Nothing to check is not schema skew: it is an error ("could not run"), not a verdict."""
    raw.head(0).to_csv(project / "empty.csv", index=False)
    with pytest.raises(InputError, match="header but no rows"):
        check_batch(project / "empty.csv", params, require_label=False)
    (project / "bad.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        check_batch(project / "bad.csv", params, require_label=False)
