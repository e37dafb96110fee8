"""Small synthetic tables and params for tests of tasks the bundled data does not cover."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tabpipe.config import Params


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


def synthetic_params(task: str, family: str = "gradient_boosting") -> Params:
    return Params.model_validate(
        {
            "data": {
                "raw": "data/synthetic.csv",
                "contract": "contracts/synthetic.yaml",
                "target": "y",
                "task": task,
                "positive_class": "yes" if task == "binary" else None,
            },
            "features": {"numeric": ["x1", "x2"], "categorical": ["colour"]},
            "train": {"seed": 0, "family": family, "gradient_boosting": {"n_estimators": 50}},
            "evaluate": {"slice_by": ["colour"], "min_slice_size": 5},
        }
    )
