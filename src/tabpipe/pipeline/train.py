"""Stage ``train``: fit the preprocessing + estimator Pipeline on the train split."""

from __future__ import annotations

import inspect
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import joblib
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline

from tabpipe.core.config import Params
from tabpipe.core.io import write_with
from tabpipe.core.model import encode_target, model_frame, pipeline
from tabpipe.core.paths import PATHS
from tabpipe.core.stage import StageFailed, log, run_stage


def boosting_progress(total: int) -> Callable[[int, Any, Any], bool]:
    """A ``monitor`` for GradientBoosting's fit that logs at 25%, 50% and 75% of the trees.

    Fitting many trees on millions of rows takes minutes; these lines show it is moving.
    """
    started = time.perf_counter()
    marks = {max(1, round(total * share)) for share in (0.25, 0.5, 0.75)} - {total}

    def monitor(iteration: int, _estimator: Any, _locals: Any) -> bool:
        if iteration + 1 in marks:
            elapsed = time.perf_counter() - started
            log("train", f"{iteration + 1}/{total} boosting iterations ({elapsed:.1f}s)")
        return False  # True would stop the boosting early

    return monitor


def fit(frame: pd.DataFrame, params: Params) -> Pipeline:
    """Fit the model; a linear model that does not converge is a failure, not a warning."""
    model = pipeline(params)
    fit_params: dict[str, Any] = {}
    estimator = model.named_steps["model"]
    if "monitor" in inspect.signature(estimator.fit).parameters:  # GradientBoosting*
        fit_params["model__monitor"] = boosting_progress(estimator.n_estimators)
    X = model_frame(frame, params.features)
    y = encode_target(frame[params.data.target], params.data.task)
    if params.data.task.is_classification and len(set(y)) < 2:
        raise StageFailed(f"the target {params.data.target!r} has a single class: {sorted(set(y))}")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            model.fit(X, y, **fit_params)
        except ConvergenceWarning as exc:
            raise StageFailed(f"{params.train.family} did not converge: {exc}") from exc
    return model


def _body(params: Params) -> None:
    frame = pd.read_parquet(PATHS.train_split)
    log(
        "train",
        f"fitting {params.train.family} ({params.data.task}) on {len(frame)} rows x "
        f"{len(params.features.all)} features",
    )
    started = time.perf_counter()
    model = fit(frame, params)
    log("train", f"fitted in {time.perf_counter() - started:.1f}s")
    write_with(PATHS.model, lambda path: joblib.dump(model, path))


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage("train", __doc__ or "", _body, argv)


if __name__ == "__main__":
    sys.exit(main())
