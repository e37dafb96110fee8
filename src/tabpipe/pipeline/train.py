"""Stage ``train``: fit the preprocessing + estimator Pipeline on the train split."""

from __future__ import annotations

import contextlib
import inspect
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline

from tabpipe.core import threads
from tabpipe.core.config import Params
from tabpipe.core.io import read_parquet, release_arrow_memory, write_with
from tabpipe.core.model import encode_target, model_frame, pipeline
from tabpipe.core.paths import PATHS
from tabpipe.core.stage import StageFailed, log, run_stage


def boosting_progress(total: int) -> Callable[[int, Any, Any], bool]:
    """A ``monitor`` for GradientBoosting's fit that logs at 25%, 50% and 75% of the trees.

    Fitting many trees on millions of rows takes minutes; these lines show it is moving.
    """
    started = time.perf_counter()
    marks = _marks(total)

    def monitor(iteration: int, _estimator: Any, _locals: Any) -> bool:
        if iteration + 1 in marks:
            elapsed = time.perf_counter() - started
            log("train", f"{iteration + 1}/{total} boosting iterations ({elapsed:.1f}s)")
        return False  # True would stop the boosting early

    return monitor


HIST_GRADIENT_BOOSTING = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)


def _marks(total: int) -> set[int]:
    return {max(1, round(total * share)) for share in (0.25, 0.5, 0.75)} - {total}


ITERATION_LINE = re.compile(r"^\[(\d+)/(\d+)\]")
PROGRESS_EVERY = 10.0  # seconds: an iteration line at least this often on a long fit


class _HistProgress:
    """Reads HistGradientBoosting's ``verbose=2`` output and logs a few lines of it.

    HistGradientBoosting has no callback; with ``verbose`` it prints one line per iteration
    (``[k/n] 1 tree, 15 leaves, ...``) and a summary (``Fit n trees in ...``). This stream
    keeps the lines at 25%, 50% and 75% of the iterations (and one per
    :data:`PROGRESS_EVERY` seconds between them on a long fit), the binning and the summary,
    and drops the rest. ``verbose`` only prints: the fitted trees are the same without it.
    """

    def __init__(self, out: TextIO) -> None:
        self.out, self.pending, self.started = out, "", time.perf_counter()
        self.shown = self.started  # when the last iteration line was printed

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self._line(line.strip())
        return len(text)

    def flush(self) -> None:
        pass

    def _line(self, line: str) -> None:
        now = time.perf_counter()
        elapsed = f"({now - self.started:.1f}s)"
        iteration = ITERATION_LINE.match(line)
        if iteration:
            done, total = int(iteration[1]), int(iteration[2])
            # The quarters, and on a long fit one line per PROGRESS_EVERY seconds between.
            if done in _marks(total) or (done < total and now - self.shown >= PROGRESS_EVERY):
                log("train", f"{done}/{total} boosting iterations {elapsed}", file=self.out)
                self.shown = now
        elif line.startswith(("Binning", "Fit ")):
            log("train", line.rstrip("."), file=self.out)
            self.shown = now


@contextlib.contextmanager
def hist_progress(estimator: Any) -> Iterator[None]:
    """Progress lines for a HistGradientBoosting fit; its ``verbose`` is restored after."""
    verbose = estimator.verbose
    estimator.set_params(verbose=2)
    try:
        with contextlib.redirect_stdout(_HistProgress(sys.stdout)):  # type: ignore[type-var]
            yield
    finally:
        estimator.set_params(verbose=verbose)


def fit(frame: pd.DataFrame, params: Params) -> Pipeline:
    """Fit the model on a split; a linear model that does not converge is a failure."""
    return fit_inputs(*inputs(frame, params), params)


def inputs(frame: pd.DataFrame, params: Params) -> tuple[pd.DataFrame, np.ndarray]:
    """The model's input frame and encoded target from a split."""
    X = model_frame(frame, params.features)
    y = encode_target(frame[params.data.target], params.data.task)
    if params.data.task.is_classification and len(set(y)) < 2:
        raise StageFailed(f"the target {params.data.target!r} has a single class: {sorted(set(y))}")
    return X, y


def fit_inputs(X: pd.DataFrame, y: np.ndarray, params: Params) -> Pipeline:
    """Fit the model on :func:`inputs`; a linear model that does not converge is a failure."""
    model = pipeline(params)
    fit_params: dict[str, Any] = {}
    estimator = model.named_steps["model"]
    progress: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if "monitor" in inspect.signature(estimator.fit).parameters:  # GradientBoosting*
        fit_params["model__monitor"] = boosting_progress(estimator.n_estimators)
    elif isinstance(estimator, HIST_GRADIENT_BOOSTING):
        progress = hist_progress(estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            with progress, threads.sized_for(len(X)):
                model.fit(X, y, **fit_params)
        except ConvergenceWarning as exc:
            raise StageFailed(f"{params.train.family} did not converge: {exc}") from exc
    if isinstance(estimator, HIST_GRADIENT_BOOSTING):
        # The fitted binner keeps the thread count it ran with, so model.joblib's md5 (in
        # dvc.lock) would change with the machine's CPUs; the trees do not. Its default
        # (None: the CPUs available) is what a refit would use anyway.
        estimator._bin_mapper.set_params(n_threads=None)
        float32_thresholds(estimator)
    return model


def float32_thresholds(estimator: Any) -> None:
    """Round each split threshold of a fitted HistGradientBoosting down to a float32.

    The model's inputs are float32 (``model_frame``), and the ONNX trees store thresholds
    as float32. On a feature with more distinct values than bins, HistGradientBoosting puts
    thresholds at interpolated percentiles (2789.9999...): rounded to float32 (2790.0) the
    ONNX graph sent a row with 2790 the other way (cars: 0.36 mpg apart, parity failed).
    The largest float32 at or below a threshold splits every float32 input exactly as the
    threshold does, so scikit-learn's predictions do not change and ONNX agrees with them.
    """
    for per_iteration in estimator._predictors:
        for tree in per_iteration:
            exact = tree.nodes["num_threshold"]
            single = exact.astype(np.float32)
            above = single.astype(np.float64) > exact
            single[above] = np.nextafter(single[above], np.float32(-np.inf))
            tree.nodes["num_threshold"] = single.astype(np.float64)


def _body(params: Params) -> None:
    # The split itself is not kept: only the model's inputs are held while it fits (the
    # frame was a quarter of train's peak memory on 800,000 rows of 36 columns).
    X, y = inputs(read_parquet(PATHS.train_split), params)
    release_arrow_memory()
    log(
        "train",
        f"fitting {params.train.family} ({params.data.task}) on {len(X)} rows x "
        f"{len(params.features.all)} features",
    )
    started = time.perf_counter()
    model = fit_inputs(X, y, params)
    log("train", f"fitted in {time.perf_counter() - started:.1f}s")
    write_with(PATHS.model, lambda path: joblib.dump(model, path))


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage("train", __doc__ or "", _body, argv)


if __name__ == "__main__":
    sys.exit(main())
