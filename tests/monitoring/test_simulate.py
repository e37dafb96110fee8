"""tabpipe simulate: seeded batches that look like new data, with the change each kind names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from tabpipe.monitoring import simulate
from tabpipe.monitoring.batch import batch_contract
from tabpipe.monitoring.drift import numeric_drift
from tabpipe.monitoring.simulate import KINDS, SimulationError
from tabpipe.pipeline.profile import profile_frame


def make(raw, params, contract, kind, **options):
    return simulate.simulate(raw, params, contract, kind=kind, rows=400, seed=3, **options)


def test_the_same_seed_gives_the_same_batch_and_another_seed_another(raw, params, contract):
    first = make(raw, params, contract, "clean").frame
    pd.testing.assert_frame_equal(first, make(raw, params, contract, "clean").frame)
    other = simulate.simulate(raw, params, contract, kind="clean", rows=400, seed=4).frame
    assert not first.equals(other)


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "schema-break"])
def test_every_kind_but_the_schema_break_keeps_the_contract(raw, params, contract, kind):
    try:
        result = make(raw, params, contract, kind)
    except SimulationError as exc:  # e.g. categorical drift in a project without categories
        assert "has no" in str(exc), exc
        return
    assert len(result.frame) == 400
    batch_contract(contract, params.data.target, labelled=True).validate(result.frame, lazy=True)


def test_a_clean_batch_holds_rows_the_table_does_not_have(raw, params, contract):
    result = make(raw, params, contract, "clean")
    left = int(simulate.not_new(result.frame, raw).sum())
    if simulate.jittered_features(raw, params):
        assert left == 0, "every row is new when the table has continuous numbers to move"
    elif params.features.numeric:
        # Only neighbouring observed values to move to, and a move that would change a
        # column's distribution is refused: on a table whose rows repeat (statsmodels'
        # randhie: 31 of 400 left), some stay copies, as new data would; ingest takes
        # any batch that is not all copies.
        assert left < len(result.frame), "some rows are new when the table has numbers"
    assert (left > 0) == any("repeat rows of the table" in note for note in result.notes)


def test_a_table_of_whole_numbers_still_gives_new_rows_with_its_own_values():
    """Defect: on mpg (234 cars, miles per gallon in whole numbers, no column continuous
    enough to jitter) every row of a clean batch was a copy, and ingest refused the batch
    as ingested before."""
    from tests.support.factories import onboarded

    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "city": rng.integers(12, 28, 234),
            "highway": rng.integers(15, 31, 234),
            "drive": rng.choice(["f", "r", "4"], 234),
        }
    )
    table["y"] = np.where(table["city"] + rng.normal(0, 2, 234) > 20, "yes", "no")
    frame, params, schema = onboarded(table, "y")
    assert params.features.numeric and not simulate.jittered_features(frame, params)
    result = simulate.simulate(frame, params, schema, kind="clean", rows=100, seed=0)
    assert simulate.copies(result.frame, frame).sum() == 0, result.notes
    for name in params.features.numeric:
        assert set(result.frame[name]) <= set(frame[name]), name
    batch_contract(schema, "y", labelled=True).validate(result.frame, lazy=True)


def test_a_clean_batch_repeats_its_rows_no_more_often_than_the_table_does():
    """Defect: iris onboarded (150 rows, lengths to a tenth of a centimetre, one repeated
    row): a 150-row clean batch drawn with replacement repeated its own rows, so the table
    with it appended held 2-5% repeats against a contract cap of 1.3%, and the onboarded
    project's ingest and update tests failed on a clean batch."""
    from sklearn.datasets import load_iris

    from tests.support.factories import onboarded

    iris = load_iris(as_frame=True)
    table = iris.frame.assign(target=iris.target.map(dict(enumerate(iris.target_names))))
    frame, params, schema = onboarded(table, "target")
    assert frame.duplicated().sum() == 1
    for seed in range(3):
        batch = simulate.simulate(frame, params, schema, kind="clean", rows=150, seed=seed).frame
        assert batch.duplicated().sum() <= 1 and simulate.copies(batch, frame).sum() == 0
        grown = pd.concat([frame, batch], ignore_index=True)
        schema.validate(grown, lazy=True)  # the duplicate cap included


def test_a_clean_batch_of_a_table_of_discrete_numbers_does_not_drift():
    """Defect: on statsmodels' fair table (years married, children, age: a few values each,
    none continuous enough to jitter) every row of a batch started as a copy and moved to a
    neighbouring value in the feature with the most values, which smoothed its histogram:
    drift flagged a clean batch (JS 0.045 on yrs_married against a threshold of 0.03)."""
    from tests.support.factories import onboarded

    rng = np.random.default_rng(2)
    rows = 3000
    table = pd.DataFrame(
        {
            # Amounts in steps (as fair's years married: 0.5, 2.5, 6, ...), not codes.
            f"x{i}": rng.choice(np.arange(values) * 1.5 + 0.5, rows, p=rng.dirichlet([2] * values))
            for i, values in enumerate([9, 7, 6])
        }
    )
    table["y"] = np.where(table["x0"] + rng.normal(0, 2, rows) > 6, "yes", "no")
    frame, params, schema = onboarded(table, "y")
    assert params.features.numeric == ["x0", "x1", "x2"]
    assert not simulate.jittered_features(frame, params)  # every move is a neighbour move
    drift = params.monitor.drift
    reference = profile_frame(
        frame, params.features, bins=drift.bins, histogram=drift.histogram, source="table"
    )["features"]  # as the profile stage makes it (here from the whole table)
    for seed in (0, 1):
        batch = simulate.simulate(frame, params, schema, kind="clean", rows=1000, seed=seed).frame
        assert simulate.copies(batch, frame).sum() < len(batch)  # ingest takes it
        for name in params.features.numeric:
            found = numeric_drift(name, reference[name], batch[name], threshold=None)
            assert found.value < 0.02, (seed, name, found.value)  # the template's threshold


def test_a_clean_batch_of_a_heavy_tailed_column_keeps_its_distribution():
    """Defect: on msleep (body weights from 5 g to 6.6 t) Gaussian jitter of 5% of the sd
    moved every small animal by tens of kilograms, and drift flagged a clean batch."""
    from tests.support.factories import onboarded

    rng = np.random.default_rng(1)
    table = pd.DataFrame({"weight": np.round(np.exp(rng.normal(0, 3, 300)), 3).clip(0.001)})
    table["legs"] = rng.normal(10, 2, 300).round(2)
    table["y"] = np.where(np.log(table["weight"]) + rng.normal(0, 1, 300) > 0, "big", "small")
    frame, params, schema = onboarded(table, "y")
    assert "weight" in simulate.jittered_features(frame, params)
    batch = simulate.simulate(frame, params, schema, kind="clean", rows=2000, seed=0).frame
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):
        made, source = batch["weight"].quantile(q), frame["weight"].quantile(q)
        assert 0.5 < made / source < 2, (q, made, source)


def test_numeric_drift_moves_the_mean_and_categorical_drift_the_mix(raw, params, contract):
    clean = make(raw, params, contract, "clean").frame
    if simulate.continuous_features(raw, params):
        numeric = make(raw, params, contract, "drift-numeric")
        for name in numeric.changed:
            assert numeric.frame[name].mean() > clean[name].mean()
    else:
        with pytest.raises(SimulationError, match="numeric"):
            make(raw, params, contract, "drift-numeric")
    if not params.features.categorical:
        with pytest.raises(SimulationError, match="categorical"):
            make(raw, params, contract, "drift-categorical")
        return
    categorical = make(raw, params, contract, "drift-categorical")
    for name in categorical.changed:
        before = clean[name].value_counts(normalize=True)
        after = categorical.frame[name].value_counts(normalize=True)
        assert (after - before).abs().max() > 0.1


def test_a_schema_break_renames_a_column_and_adds_an_unknown_category(raw, params, contract):
    result = make(raw, params, contract, "schema-break")
    if params.features.numeric:
        assert params.features.numeric[0] not in result.frame.columns
    if params.features.categorical:
        values = set(result.frame[params.features.categorical[0]].astype(str))
        assert simulate.NEW_CATEGORY in values
    assert result.changed


def test_unlabelled_batches_drop_the_label_and_bad_requests_are_refused(raw, params, contract):
    assert params.data.target not in make(raw, params, contract, "clean", labelled=False).frame
    with pytest.raises(SimulationError, match="--features"):
        make(raw, params, contract, "drift-numeric", features=["no-such-column"])
    with pytest.raises(SimulationError, match="unknown kind"):
        make(raw, params, contract, "drift-everything")


def test_the_cli_writes_the_batch(project, capsys):
    assert simulate.main(["--kind", "concept-drift", "--rows", "50", "--out", "b.parquet"]) == 0
    assert len(pd.read_parquet(project / "b.parquet")) == 50
    assert "concept-drift: 50 rows" in capsys.readouterr().out
    assert simulate.main(["--out", "b.txt"]) == 1


def test_booleans_codes_and_pandas_categories_drift_and_break_without_a_crash(tmp_path):
    """Kinds a real table has: the batch keeps their values' types, or breaks them as text."""
    from tests.support.factories import kinds_table, onboarded

    frame, params, schema = onboarded(kinds_table(), "y")
    for name in ("member", "grade", "plan_code"):
        drifted = simulate.simulate(
            frame, params, schema, kind="drift-categorical", rows=300, seed=1, features=[name]
        )
        moved = drifted.frame[name].dropna()
        assert set(moved.map(type)) <= set(frame[name].dropna().map(type)), name
        assert (
            moved.value_counts(normalize=True).max()
            != frame[name].value_counts(normalize=True).max()
        )
        simulate.write_batch(drifted.frame, tmp_path / f"{name}.parquet")
    for name in ("member", "grade", "plan_code"):
        first = [name, *(n for n in params.features.categorical if n != name)]
        features = params.features.model_copy(update={"categorical": first})
        reordered = params.model_copy(update={"features": features})
        broken = simulate.simulate(frame, reordered, schema, kind="schema-break", rows=300, seed=1)
        assert simulate.NEW_CATEGORY in set(broken.frame[name]), name
        simulate.write_batch(broken.frame, tmp_path / "broken.parquet")
        with pytest.raises(pa.errors.SchemaErrors, match=name):
            batch_contract(schema, "y", labelled=True).validate(broken.frame, lazy=True)
