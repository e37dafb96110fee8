"""Small synthetic tables and params for tests of tasks the bundled data does not cover."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from tabpipe.core.config import Params, load_params
from tabpipe.core.project import Project

ROOT = Path(__file__).resolve().parents[2]


def project_code() -> Project:
    """The project package this checkout's params.yaml names (its families, derived features)."""
    return load_params(ROOT / "params.yaml").code


def family_names() -> list[str]:
    return list(project_code().families)


def synthetic(task: str, rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """A small learnable table with numeric and categorical features and missing values."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=rows)
    x2 = rng.uniform(0, 10, size=rows)
    colour = rng.choice(["red", "green", "blue"], size=rows)
    signal = x1 + 0.3 * x2 + np.where(colour == "red", 1.5, 0.0)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "colour": colour})
    frame.loc[rng.choice(rows, rows // 20, replace=False), "x2"] = np.nan
    frame.loc[rng.choice(rows, rows // 20, replace=False), "colour"] = np.nan
    if task == "regression":
        frame["y"] = signal + rng.normal(scale=0.1, size=rows)
    elif task == "binary":
        frame["y"] = np.where(signal > np.median(signal), "yes", "no")
    else:
        frame["y"] = pd.cut(signal, 3, labels=["low", "mid", "high"]).astype(str)
    return frame


def named_models_table(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """mpg's shape: a label (one of four) decided by a 40-valued name, beside two numbers
    that carry nothing: trees see the name only if its categories reach them well."""
    rng = np.random.default_rng(seed)
    names = [f"model{i:02d}" for i in range(40)]
    table = pd.DataFrame(
        {
            "age": rng.normal(40, 10, rows),
            "income": rng.normal(0, 1, rows),
            "job": rng.choice(names, rows),
        }
    )
    table["y"] = table["job"].map({n: "abcd"[i % 4] for i, n in enumerate(names)})
    return table


def kinds_table(rows: int = 300, seed: int = 1) -> pd.DataFrame:
    """One column of each kind init tells apart, beside a learnable label."""
    rng = np.random.default_rng(seed)
    frame = synthetic("binary", rows=rows, seed=seed)
    frame["member"] = rng.random(rows) < 0.4  # native booleans
    flags = pd.Series(rng.random(rows) < 0.5, dtype=object)
    flags[::17] = None
    frame["opted_in"] = flags  # booleans with missing cells, as a CSV reader gives them
    frame["grade"] = pd.Categorical(
        rng.choice(["low", "mid", "high"], rows), categories=["low", "mid", "high"], ordered=True
    )
    frame["plan_code"] = rng.choice([1, 2, 3], rows)  # integer codes
    frame["visits"] = rng.integers(0, 40, rows)  # an integer amount: many values
    frame["customer"] = rng.permutation(rows) + 50_000  # a shuffled unique ID
    frame["account"] = [f"AC-{i:05d}" for i in rng.permutation(rows)]  # a text ID
    frame["country"] = "FR"  # constant
    return frame


def synthetic_params(task: str, family: str | None = None, **train: object) -> Params:
    """Params for :func:`synthetic`; the family defaults to the project's default family,
    trained small (``train`` overrides the family's settings)."""
    code = project_code()
    family = family or code.default_family
    return Params.model_validate(
        {
            "project": {"package": code.package},
            "data": {
                "raw": "data/synthetic.csv",
                "contract": "contracts/synthetic.yaml",
                "target": "y",
                "task": task,
                "positive_class": "yes" if task == "binary" else None,
            },
            "features": {
                "numeric": ["x1", "x2"],
                "categorical": ["colour"],
                "derived": {"x_ratio": "x1 / (x2 + 1)", "x_square": "abs(x1) ** 2"},
            },
            "train": {"seed": 0, "family": family, family: small_settings(family, **train)},
            "evaluate": {"slice_by": ["colour"], "min_slice_size": 5},
        }
    )


# Settings that keep the demo families quick on a few hundred rows.
SMALL = {"gradient_boosting": {"n_estimators": 50}, "random_forest": {"n_estimators": 50}}


def small_settings(family: str, **overrides: object) -> dict:
    return {**SMALL.get(family, {}), **overrides}


def check_statistics(schema: pa.DataFrameSchema, column: str, check: str) -> dict | None:
    """The statistics of a named check on a column of the contract, if it has one."""
    for candidate in schema.columns[column].checks:
        if candidate.name == check:
            return dict(candidate.statistics)
    return None


def ranged_numeric(params: Params, schema: pa.DataFrameSchema) -> tuple[str, float]:
    """A numeric feature with an upper bound in the contract, and a value above it."""
    for name in params.features.numeric:
        stats = check_statistics(schema, name, "in_range")
        if stats is not None:
            return name, float(stats["max_value"]) + 1 + abs(float(stats["max_value"]))
    raise AssertionError("the contract bounds no numeric feature with in_range")


def enumerated_column(
    params: Params, schema: pa.DataFrameSchema, *, features_only: bool = False
) -> tuple[str, list] | None:
    """A column whose contract lists its allowed values: a categorical feature if there is
    one, else a classification label (unless ``features_only``); None for data with
    neither (numeric features and a numeric label)."""
    candidates = list(params.features.categorical)
    if not features_only:
        candidates.append(params.data.target)
    for name in candidates:
        stats = check_statistics(schema, name, "isin")
        if stats is not None:
            return name, list(stats["allowed_values"])
    return None


def feature_of_dtype(params: Params, schema: pa.DataFrameSchema, dtypes: set[str]) -> str | None:
    """The first categorical feature whose contract dtype is one of ``dtypes`` (``str``:
    text categories, ``Int64``: integer codes, ``boolean``), or None if the data has none."""
    for name in params.features.categorical:
        if name in schema.columns and str(schema.columns[name].dtype) in dtypes:
            return name
    return None


TEXT_DTYPES = {"str", "string", "string[pyarrow]", "string[python]"}
CODE_DTYPES = {"Int64", "int64"}
BOOLEAN_DTYPES = {"boolean", "bool"}


def min_rows(schema: pa.DataFrameSchema) -> int:
    for candidate in schema.checks:
        if candidate.name == "min_rows":
            return int(candidate.statistics["min_value"])
    raise AssertionError("the contract has no min_rows check")


def quick_family() -> str:
    """A family that fits in about a second: the project's linear one if it has one."""
    families = family_names()
    return "linear" if "linear" in families else project_code().default_family


def onboarded(
    frame: pd.DataFrame, target: str, **plan_options: object
) -> tuple[pd.DataFrame, Params, pa.DataFrameSchema]:
    """Any table as ``tabpipe init`` would make it a project: the data as its inferred
    contract coerces it, the params (the project's quick family) and the contract."""
    from tabpipe.core.contract import check
    from tabpipe.onboarding.plan import contract_for, plan

    chosen = plan(frame, target, **plan_options)  # type: ignore[arg-type]
    schema = contract_for(frame, chosen, "onboarded")
    report, validated = check(frame, schema, source="table", contract="inferred")
    assert report.ok and validated is not None, report.summary()
    code = project_code()
    family = quick_family()
    params = Params.model_validate(
        {
            "project": {"package": code.package},
            "data": {
                "raw": "data/table.parquet",
                "contract": "contracts/data.yaml",
                "target": target,
                "task": chosen.task.value,
                "positive_class": chosen.positive_class,
            },
            "features": {"numeric": chosen.numeric, "categorical": chosen.categorical},
            "train": {"seed": 0, "family": family, family: small_settings(family)},
            "split": {"group_by": chosen.group_by},
        }
    )
    return validated, params, schema
