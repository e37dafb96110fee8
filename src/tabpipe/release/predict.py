"""``tabpipe predict``: score a CSV or Parquet file with a model bundle.

The file is checked against the data contract minus the label before anything is
predicted: every rule a row can break (names, types, nulls, ranges, categories), not the
statistics of the training table (its row floor, its share of nulls). A file that breaks
the contract gets every problem listed and no output. Predictions come from the same code
the service runs (``tabpipe.serving.runtime``) and are written next to the features, with
the model version on every row::

    tabpipe predict new_applicants.csv --out scored.parquet --model-dir build/bundle

Columns: the features, any ``--keep`` columns (ids) and the label if present, then
``prediction``, one ``probability_<class>`` per class (classification) and ``model_version``.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from tabpipe.core.config import ConfigError, Params, load_params
from tabpipe.core.contract import (
    ContractError,
    ValidationReport,
    check,
    load_contract,
    without_columns,
)
from tabpipe.core.io import SUPPORTED_SUFFIXES, InputError, read_table, write_with
from tabpipe.core.paths import BUNDLE_DIR, PARAMS_FILE
from tabpipe.serving.runtime import MISSING_CATEGORY, ModelLoadError, ServingModel

CHUNK_ROWS = 50_000


class PredictError(Exception):
    """The file cannot be scored; the message says why."""


# Statistics of the training table, not rules a row can break: a file of ten rows with two
# missing incomes is as scoreable as the service finds each row (it accepts any null the
# contract allows).
TABLE_STATISTICS = frozenset({"max_null_fraction"})


def unlabelled_contract(params: Params, keep: Sequence[str] = ()) -> pa.DataFrameSchema:
    """The contract's rules for a row: no label, no row floor, no share-of-nulls limits."""
    schema = without_columns(load_contract(params.data.contract), [params.data.target, *keep])
    schema = copy.deepcopy(schema)
    schema.checks = []
    per_row = {
        name: {"checks": [c for c in column.checks if c.name not in TABLE_STATISTICS]}
        for name, column in schema.columns.items()
    }
    return schema.update_columns(per_row)


def validate(
    frame: pd.DataFrame, params: Params, source: str, keep: Sequence[str] = ()
) -> tuple[ValidationReport, pd.DataFrame | None]:
    frame = frame.reset_index(drop=True)  # rows are reported, and joined back, by position
    passthrough = [c for c in [*keep, params.data.target] if c in frame.columns]
    missing_keep = [c for c in keep if c not in frame.columns]
    if missing_keep:
        raise PredictError(f"{source}: --keep column(s) not in the file: {missing_keep}")
    schema = unlabelled_contract(params, keep)
    report, valid = check(
        frame.drop(columns=passthrough), schema, source=source, contract=str(params.data.contract)
    )
    if valid is None:
        return report, None
    return report, pd.concat([frame[passthrough], valid], axis=1)


def frame_feeds(model: ServingModel, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The model's ONNX inputs for a validated frame, column by column.

    The same values :meth:`ServingModel._feeds` makes from a request's JSON values, without
    a Python object per cell: numbers as float32 (missing as NaN), categories and booleans as
    ``str(value)`` (missing as the missing category). tests/release/test_predict.py checks
    that both give the same feeds.
    """
    feeds = {}
    for feature in model.features:
        series = frame[feature.name]
        if feature.kind == "numeric":
            numbers = pd.to_numeric(series, errors="raise").astype("float64")
            array = numbers.to_numpy(dtype=np.float64, na_value=np.nan).astype(np.float32)
        else:
            values = series.astype(object)
            missing = values.isna().to_numpy()
            array = values.astype(str).to_numpy(dtype=object)
            array[missing] = MISSING_CATEGORY
        feeds[feature.onnx_input] = array.reshape(-1, 1)
    return feeds


def predict_frame(model: ServingModel, frame: pd.DataFrame) -> pd.DataFrame:
    """The validated frame with prediction columns added (in chunks; the service's model)."""
    names = ["prediction"]
    if model.is_classifier:
        names += [f"probability_{cls}" for cls in model.classes]
    parts = []
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        answers, proba = model.predict_feeds(frame_feeds(model, chunk))
        out = pd.DataFrame({"prediction": answers}, index=chunk.index)
        for i, name in enumerate(names[1:]):
            out[name] = proba[:, i]
        parts.append(out)
    if not parts:  # no rows: the same columns as ever, empty
        parts = [pd.DataFrame(index=frame.index, columns=names)]
    result = pd.concat([frame, pd.concat(parts)], axis=1)
    result["model_version"] = model.version
    return result


def _writer(frame: pd.DataFrame, suffix: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        if suffix == ".csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)

    return write


def run(
    source: Path, out: Path, model_dir: Path, params: Params, keep: Sequence[str] = ()
) -> tuple[pd.DataFrame, str]:
    """Score ``source`` into ``out``; the scored frame and the model version."""
    if out.is_dir():
        raise PredictError(f"{out}: is a folder; give the file to write (.csv or .parquet)")
    if out.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise PredictError(f"{out}: write .csv or .parquet, not {out.suffix or 'no suffix'}")
    if out.resolve() == source.resolve():
        raise PredictError(f"{out}: the output would overwrite the input")
    model = ServingModel(model_dir)
    frame = read_table(source)
    report, valid = validate(frame, params, str(source), keep)
    if valid is None:
        raise PredictError(report.summary())
    scored = predict_frame(model, valid)
    write_with(out, _writer(scored, out.suffix.lower()))
    return scored, model.version


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tabpipe predict",
        description=(__doc__ or "").split("\n\n")[0],
        epilog="Exit status: 0 scored, 1 the file or the model cannot be used (nothing written).",
    )
    parser.add_argument("input", type=Path, help="CSV or Parquet file with the feature columns")
    parser.add_argument("--out", type=Path, required=True, help="where to write (.csv/.parquet)")
    parser.add_argument("--model-dir", type=Path, default=BUNDLE_DIR, help="the bundle")
    parser.add_argument("--keep", nargs="*", default=[], help="extra columns to copy (ids)")
    parser.add_argument("--params", type=Path, default=PARAMS_FILE)
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        scored, version = run(args.input, args.out, args.model_dir, params, args.keep)
    except (PredictError, InputError, ModelLoadError, ConfigError, ContractError) as exc:
        print(f"tabpipe predict: {exc}", file=sys.stderr)
        return 1
    print(f"scored {len(scored)} rows of {args.input} with model {version}: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
