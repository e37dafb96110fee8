"""Simulate a new batch of data from the project's own table, with or without drift.

``tabpipe simulate --kind KIND --out FILE`` resamples rows of ``data.raw`` (seeded) and
perturbs them, so the batch looks like new data from the same source:

- ``clean``: same distribution. Continuous numbers get a small jitter (a random part, up to
  half, of the way to a neighbouring observed value), rounded to the column's precision; a
  row the jitter left equal to a row of the table gets a neighbouring observed value in a
  numeric feature, so rows are new rather than copies; so does a row that repeats another
  row of the batch, beyond the share of repeated rows the table itself holds.
- ``drift-numeric``: as clean, then the most continuous numeric features (or ``--features``)
  are shifted up by ``--strength`` standard deviations, kept inside the contract's bounds.
- ``drift-categorical``: as clean, then in up to two categorical features a share
  (``0.4 x strength``) of rows moves to the feature's second most common category.
- ``schema-break``: an upstream change: a numeric feature is renamed and a categorical
  one gets a value the contract does not allow.
- ``concept-drift``: features as clean, but a share (``0.35 x strength``) of labels is
  changed (to another class; for regression, to another row's value), so the model is
  wrong more often while the inputs look the same.

Batches carry the label unless ``--unlabelled`` (what a serving log would hold).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from tabpipe.core.config import ConfigError, Params, load_params
from tabpipe.core.contract import ContractError, load_contract
from tabpipe.core.io import InputError, read_table, write_with
from tabpipe.core.paths import PARAMS_FILE

KINDS = ("clean", "drift-numeric", "drift-categorical", "schema-break", "concept-drift")
JITTER_REACH = 0.5  # a jittered value moves up to this share of the way to its neighbour
CONTINUOUS_MIN_DISTINCT = 20
JITTER_MAX_MODE_SHARE = 0.05  # jitter only columns with no heavy point mass (e.g. 27% at 35)
SHIFTED_NUMERIC = 3
SHIFTED_CATEGORICAL = 2
NEW_CATEGORY = "unknown"
CHANGED_LABEL_SHARE = 0.35  # concept drift at strength 1 changes this share of the labels
ROUNDS = 6  # passes over the numeric features that move copied rows to new ones


class SimulationError(Exception):
    """The simulation cannot be made as asked (unknown feature, nothing to shift...)."""


@dataclass
class Simulation:
    kind: str
    frame: pd.DataFrame
    changed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def decimals(values: pd.Series) -> int:
    """The fewest decimal places that write every value of the column exactly (max 6)."""
    finite = values.dropna().to_numpy(dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    for places in range(7):
        scaled = finite * 10**places
        if np.allclose(scaled, np.round(scaled), rtol=0, atol=1e-6):
            return places
    return 6


def contract_bounds(schema: pa.DataFrameSchema, column: str) -> tuple[float, float]:
    """The numeric bounds the contract puts on a column (-inf/inf where it sets none)."""
    low, high = -np.inf, np.inf
    if column not in schema.columns:
        return low, high
    for rule in schema.columns[column].checks:
        stats = dict(rule.statistics)
        if rule.name == "in_range":
            low, high = float(stats["min_value"]), float(stats["max_value"])
        elif rule.name in {"greater_than_or_equal_to", "greater_than"}:
            low = float(stats["min_value"])
        elif rule.name in {"less_than_or_equal_to", "less_than"}:
            high = float(stats["max_value"])
    return low, high


def _numeric(frame: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(frame[name], errors="coerce").astype("float64")


def _settle(values: pd.Series, source: pd.Series, bounds: tuple[float, float]) -> pd.Series:
    """Round to the source column's precision and keep inside the contract's bounds."""
    rounded = values.round(decimals(source))
    return rounded.clip(lower=bounds[0], upper=bounds[1])


def _assign(batch: pd.DataFrame, name: str, values: pd.Series, source: pd.DataFrame) -> None:
    """Store values, keeping an integer column integer when nothing is missing."""
    if pd.api.types.is_integer_dtype(source[name]) and not values.isna().any():
        values = values.astype("int64")
    batch[name] = values


def continuous_features(frame: pd.DataFrame, params: Params) -> list[str]:
    """Numeric features with many distinct values, most distinct first."""
    distinct = {name: _numeric(frame, name).nunique() for name in params.features.numeric}
    ranked = sorted(distinct, key=lambda name: (-distinct[name], name))
    return [name for name in ranked if distinct[name] >= CONTINUOUS_MIN_DISTINCT]


def jittered_features(frame: pd.DataFrame, params: Params) -> list[str]:
    """Continuous features without a heavy point mass: jitter would smear real spikes."""
    chosen = []
    for name in continuous_features(frame, params):
        shares = _numeric(frame, name).value_counts(normalize=True)
        if shares.empty or float(shares.iloc[0]) < JITTER_MAX_MODE_SHARE:
            chosen.append(name)
    return chosen


def resample(
    source: pd.DataFrame,
    params: Params,
    schema: pa.DataFrameSchema,
    rows: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Rows drawn with replacement; each continuous number moved towards a neighbour.

    A value moves a random part (up to half) of the way to the next observed value above or
    below it, then is rounded to the column's precision: the spread of the table's own
    values decides how far, so the batch keeps the column's distribution whatever its
    scale. (Gaussian noise of 5% of the column's sd, as before, moved a 10 g mouse by tens
    of kilograms when elephants were in the table, and a clean batch looked drifted.)
    Values stay inside the observed range.
    """
    picked = rng.integers(0, len(source), size=rows)
    batch = source.iloc[picked].reset_index(drop=True).copy()
    for name in jittered_features(source, params):
        values, observed = _numeric(batch, name), _numeric(source, name)
        present = values.notna()
        here = values[present].to_numpy()
        known, at = _positions(observed, here)
        side = rng.choice([-1, 1], size=len(here))
        neighbour = known[np.clip(at + side, 0, len(known) - 1)]  # at an end: no move
        share = rng.uniform(0.0, JITTER_REACH, size=len(here))
        moved = values.copy()
        moved.loc[present] = here + share * (neighbour - here)
        settled = _settle(moved, observed, (observed.min(), observed.max()))
        _assign(batch, name, settled, source)
    return batch


def _positions(observed: pd.Series, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The column's distinct observed values, sorted, and where each of ``values`` is in them."""
    known = np.sort(observed.dropna().unique())
    return known, np.searchsorted(known, values)


def _moved_keeping_the_distribution(
    observed: pd.Series, values: np.ndarray, steps: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Each of ``values`` (observed values of the column) moved ``steps`` places among the
    column's distinct observed values, or left where it is.

    A Metropolis step: the move from v to u is taken with probability min(1, p(u) / p(v)),
    p being the column's own frequencies, and a move past either end is refused, so the
    proposals are symmetric and the column's distribution is the one the moves keep (their
    stationary distribution). Moving every value to a neighbour instead smoothed a column
    with few values: a batch drawn from the table then drifted from it.
    """
    counts = observed.value_counts()
    known = np.sort(counts.index.to_numpy(dtype="float64"))
    share = counts.reindex(known).to_numpy(dtype="float64")
    at = np.clip(np.searchsorted(known, values), 0, len(known) - 1)
    target = at + steps
    inside = (target >= 0) & (target < len(known)) & (known[at] == values)
    target = np.clip(target, 0, len(known) - 1)
    odds = np.minimum(1.0, share[target] / share[at])
    taken = inside & (rng.uniform(size=len(values)) < odds)
    return np.where(taken, known[target], values)


def copies(batch: pd.DataFrame, source: pd.DataFrame) -> pd.Series:
    """True for each batch row equal to a row of ``source`` (every column; missing values
    match). Rows that repeat each other are not copies (:func:`excess_repeats` marks those
    beyond the table's own share of repeats)."""
    marked = batch.merge(
        source.drop_duplicates(), on=list(batch.columns), how="left", indicator=True
    )
    return pd.Series((marked["_merge"] == "both").to_numpy(), index=batch.index)


def excess_repeats(batch: pd.DataFrame, share: float) -> pd.Series:
    """True for each batch row that repeats an earlier batch row, beyond the ``share`` of
    repeats the table itself holds.

    A batch drawn with replacement repeats its rows far more often than new data does:
    150 draws among iris's 150 rows pick the same row for about a third of them, and
    jitter rounded to a tenth of a centimetre leaves many equal. Appended, 2-5% of the
    table repeated rows where iris holds 0.7%, and the contract's duplicate check
    (inferred at 1.3%) refused a clean batch.
    """
    repeats = batch.duplicated()
    allowed = int(share * len(batch))
    return repeats & (repeats.cumsum() > allowed)


def not_new(batch: pd.DataFrame, source: pd.DataFrame) -> pd.Series:
    """True for each batch row that is a copy of a table row, or a repeat of a batch row
    beyond the share of repeated rows the table itself holds."""
    share = float(source.duplicated().mean()) if len(source) else 0.0
    return copies(batch, source) | excess_repeats(batch, share)


def make_rows_new(
    batch: pd.DataFrame, source: pd.DataFrame, params: Params, rng: np.random.Generator
) -> int:
    """Move each copied row's numbers to a neighbouring observed value until it is new.

    Jitter leaves a row unchanged when no feature is continuous enough to jitter, or when
    rounding to the column's precision undoes it (a table of whole numbers, such as miles
    per gallon). A copy then gets, in one numeric feature, the next observed value up or
    down (a move the column's own distribution keeps: :func:`_moved_keeping_the_distribution`),
    so the batch keeps the table's values and its rows are new. The numeric features
    take turns across the copies (the i-th copy moves in feature i + turn, modulo their
    count), so each feature's distribution takes a share of the moves: moving every copy in
    the feature with the most distinct values smoothed that feature's histogram, and on
    statsmodels' fair table (8 features, all discrete, so every row of a batch starts as a
    copy) a clean batch drifted on yrs_married (JS divergence 0.045). Copies left (a moved
    row may land on another row of the table) move again, one observed value away and then
    further. Rows that repeat each other more often than the table's rows do
    (:func:`excess_repeats`) move the same way. Returns how many rows are still copies or
    such repeats (a table without numbers to move, or one whose every neighbouring
    combination exists).
    """
    repeated = not_new(batch, source)
    distinct = {name: _numeric(source, name).nunique() for name in params.features.numeric}
    ranked = sorted((n for n in distinct if distinct[n] >= 2), key=lambda n: -distinct[n])
    for turn in range(len(ranked) * ROUNDS):
        if not repeated.any():
            break
        reach = 1 + turn // len(ranked)  # one observed value away, then two, ...
        position = np.cumsum(repeated.to_numpy()) - 1  # each copy's place among the copies
        feature = (position + turn) % len(ranked)
        for index, name in enumerate(ranked):
            values = _numeric(batch, name)
            rows = repeated & (feature == index) & values.notna()
            size = int(rows.sum())
            if not size:
                continue
            steps = rng.choice([-1, 1], size=size) * rng.integers(1, reach + 1, size=size)
            observed = _numeric(source, name)
            here = values[rows].to_numpy()
            values.loc[rows] = _moved_keeping_the_distribution(observed, here, steps, rng)
            _assign(batch, name, values, source)
        repeated = not_new(batch, source)
    return int(repeated.sum())


def shift_numeric(
    batch: pd.DataFrame,
    source: pd.DataFrame,
    names: list[str],
    schema: pa.DataFrameSchema,
    strength: float,
) -> list[str]:
    notes = []
    for name in names:
        reference = _numeric(source, name)
        shift = strength * float(reference.std())
        shifted = _settle(_numeric(batch, name) + shift, reference, contract_bounds(schema, name))
        _assign(batch, name, shifted, source)
        notes.append(
            f"{name}: +{strength:g} sd (mean {reference.mean():.4g} -> {shifted.mean():.4g})"
        )
    return notes


def shift_categories(
    batch: pd.DataFrame,
    source: pd.DataFrame,
    names: list[str],
    strength: float,
    rng: np.random.Generator,
) -> list[str]:
    share = min(0.4 * strength, 1.0)
    notes = []
    for name in names:
        # The source's own values (a boolean stays a boolean, a code an integer); as objects,
        # since a pandas category or bool column refuses a value assigned into it.
        common = source[name].dropna().astype(object).value_counts()
        if len(common) < 2:
            raise SimulationError(f"{name!r} has fewer than 2 categories: nothing to shift to")
        target = common.index[1]
        moved = rng.random(len(batch)) < share
        column = batch[name].astype(object)
        before = float((column == target).mean())
        column[moved] = target
        batch[name] = column
        after = float((column == target).mean())
        notes.append(
            f"{name}: {share:.0%} of rows moved to {target!r} ({before:.0%} -> {after:.0%})"
        )
    return notes


def change_labels(
    batch: pd.DataFrame,
    source: pd.DataFrame,
    params: Params,
    strength: float,
    rng: np.random.Generator,
) -> str:
    target = params.data.target
    share = min(CHANGED_LABEL_SHARE * strength, 1.0)
    changed = rng.random(len(batch)) < share
    if params.data.task.is_classification:
        classes = sorted(source[target].dropna().astype(str).unique())
        if len(classes) < 2:
            raise SimulationError(f"the label {target!r} has one class: nothing to change to")
        current = batch[target].astype(str).to_numpy()
        offsets = rng.integers(1, len(classes), size=len(batch))
        index = np.array([classes.index(value) for value in current])
        replaced = np.array(classes, dtype=object)[(index + offsets) % len(classes)]
        batch[target] = np.where(changed, replaced, current)
        return f"{target}: {changed.mean():.0%} of labels changed to another class"
    # Regression: the changed rows take the value of another random row. The label keeps
    # its distribution (and the contract's range) but loses its link to the features;
    # added noise would push values past the contract's bounds (a schema problem instead).
    values = _numeric(batch, target).to_numpy()
    batch[target] = np.where(changed, rng.permutation(values), values)
    return f"{target}: {changed.mean():.0%} of values swapped with other rows' values"


def break_schema(
    batch: pd.DataFrame, params: Params, schema: pa.DataFrameSchema
) -> tuple[pd.DataFrame, list[str], list[str]]:
    changed, notes = [], []
    if params.features.numeric:
        name = params.features.numeric[0]
        renamed = f"{name.lower()}_v2"
        batch = batch.rename(columns={name: renamed})
        changed.append(name)
        notes.append(f"column {name!r} renamed to {renamed!r}")
    if params.features.categorical:
        name = params.features.categorical[0]
        allowed = _allowed_values(schema, name)
        value = NEW_CATEGORY if NEW_CATEGORY not in allowed else f"{NEW_CATEGORY}-{len(allowed)}"
        # Upstream now writes the column as text (a boolean or code column too: a bool or
        # category dtype refuses the new value, and Parquet refuses mixed types).
        text = batch[name].astype(object)
        batch[name] = text.where(text.isna(), text.astype(str))
        batch.loc[batch.index[: max(1, len(batch) // 10)], name] = value
        changed.append(name)
        notes.append(f"{name}: {max(1, len(batch) // 10)} rows hold the new value {value!r}")
    return batch, changed, notes


def _allowed_values(schema: pa.DataFrameSchema, column: str) -> set[str]:
    if column not in schema.columns:
        return set()
    for rule in schema.columns[column].checks:
        if rule.name == "isin":
            return {str(v) for v in rule.statistics["allowed_values"]}
    return set()


def _pick(
    requested: list[str] | None, default: list[str], allowed: list[str], kind: str
) -> list[str]:
    if requested:
        unknown = [name for name in requested if name not in allowed]
        if unknown:
            raise SimulationError(
                f"--features names no {kind} feature: {unknown}; choose from {allowed}"
            )
        return requested
    if not default:
        raise SimulationError(f"the project has no {kind} feature to shift")
    return default


def simulate(
    source: pd.DataFrame,
    params: Params,
    schema: pa.DataFrameSchema,
    *,
    kind: str,
    rows: int,
    seed: int,
    strength: float = 1.0,
    features: list[str] | None = None,
    labelled: bool = True,
) -> Simulation:
    """A batch of ``rows`` rows of the given kind, reproducible from ``seed``."""
    if kind not in KINDS:
        raise SimulationError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    if rows < 1:
        raise SimulationError("--rows must be at least 1")
    rng = np.random.default_rng(seed)
    batch = resample(source, params, schema, rows, rng)
    result = Simulation(kind, batch)
    left = make_rows_new(batch, source, params, rng)
    if left:
        result.notes.append(
            f"{left} of {rows} rows repeat rows of the table (or of the batch, more often "
            "than the table's rows repeat each other): it has too few numeric values to make "
            "them new"
        )
    if kind == "drift-numeric":
        numeric = params.features.numeric
        default = continuous_features(source, params)[:SHIFTED_NUMERIC]
        names = _pick(features, default, numeric, "continuous numeric")
        result.notes = shift_numeric(batch, source, names, schema, strength)
        result.changed = names
    elif kind == "drift-categorical":
        categorical = params.features.categorical
        default = [n for n in categorical if source[n].dropna().nunique() >= 2][
            :SHIFTED_CATEGORICAL
        ]
        names = _pick(features, default, categorical, "categorical")
        result.notes = shift_categories(batch, source, names, strength, rng)
        result.changed = names
    elif kind == "concept-drift":
        result.notes = [change_labels(batch, source, params, strength, rng)]
        result.changed = [params.data.target]
    elif kind == "schema-break":
        result.frame, result.changed, result.notes = break_schema(batch, params, schema)
    if not labelled:
        result.frame = result.frame.drop(columns=[params.data.target], errors="ignore")
    return result


def write_batch(frame: pd.DataFrame, out: Path) -> None:
    suffix = out.suffix.lower()
    if suffix == ".csv":
        write_with(out, lambda path: frame.to_csv(path, index=False))
    elif suffix in {".parquet", ".pq"}:
        write_with(out, lambda path: frame.to_parquet(path, index=False))
    else:
        raise SimulationError(f"{out}: write .csv or .parquet")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tabpipe simulate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--kind", choices=KINDS, default="clean", help="what the batch simulates")
    parser.add_argument(
        "--out", type=Path, required=True, help="where to write it (.csv or .parquet)"
    )
    parser.add_argument("--rows", type=int, default=1000, help="rows in the batch (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--strength", type=float, default=1.0, help="how strong the change is (default 1)"
    )
    parser.add_argument("--features", nargs="+", help="features to shift (default: chosen by kind)")
    parser.add_argument("--unlabelled", action="store_true", help="leave out the label column")
    parser.add_argument("--params", type=Path, default=PARAMS_FILE)
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        schema = load_contract(params.data.contract)
        source = read_table(params.data.raw)
        result = simulate(
            source,
            params,
            schema,
            kind=args.kind,
            rows=args.rows,
            seed=args.seed,
            strength=args.strength,
            features=args.features,
            labelled=not args.unlabelled,
        )
        write_batch(result.frame, args.out)
    except (ConfigError, ContractError, InputError, SimulationError) as exc:
        print(f"[simulate] ERROR: {exc}", file=sys.stderr)
        return 1
    print(f"[simulate] {args.kind}: {len(result.frame)} rows from {params.data.raw} -> {args.out}")
    for note in result.notes:
        print(f"[simulate]   {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
