"""What a new project's first model should beat, measured before init writes its gate.

:func:`measure` splits the validated data as the ``split`` stage will, then scores two
models on the same folds of the training split: a guess that ignores the features (the
fold's class shares, or its mean) and the project's default model. The gate's suggested
value thresholds (:func:`tabpipe.pipeline.gate.suggested_thresholds`) are built from the
two, so a model no better than guessing is not blessed and the default model is.

:func:`better_encoding` compares two ways of feeding categories to the default model on
those folds (one-hot, or numbered: see docs/decisions.md), so init writes the better one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

from tabpipe.core import threads
from tabpipe.core.config import Params, Task
from tabpipe.core.metrics import HIGHER_IS_BETTER, Predictions, scores
from tabpipe.core.model import encode_target, model_frame, pipeline
from tabpipe.pipeline.gate import Evidence
from tabpipe.pipeline.split import named_groups, split_frame

FOLDS = 5
# Cross-validating on more rows than this says little more about the first model and costs
# five fits of it: larger training splits are sampled (the evidence is then, if anything,
# pessimistic, which makes the suggested floors looser, not stricter).
MAX_ROWS = 20_000


@dataclass(frozen=True)
class CrossValidation:
    """The folds' scores (``evidence``, its ``noise`` not measured yet) and what measuring
    the noise needs: every training row's held-out prediction and the groups."""

    evidence: Evidence
    params: Params
    held_out: Predictions
    groups: np.ndarray | None
    test_groups: int | None


def measure(frame: pd.DataFrame, params: Params, *, folds: int = FOLDS) -> Evidence | None:
    """Cross-validated scores of a guess and of the default model on the training split,
    with the test split's noise; None when a class has fewer than two training rows (no
    fold split can keep it)."""
    done = cross_validate(frame, params, folds=folds)
    return None if done is None else with_noise(done)


def with_noise(done: CrossValidation) -> Evidence:
    """The evidence of ``done`` with its test split's noise (:func:`sampling_noise`, a
    second or two): init measures it only for the encoding it writes."""
    task, evidence = done.params.data.task, done.evidence
    noise = sampling_noise(
        task,
        done.params,
        done.held_out,
        test_rows=evidence.test_rows,
        groups=done.groups,
        test_groups=done.test_groups,
    )
    return replace(evidence, noise=noise)


def cross_validate(
    frame: pd.DataFrame, params: Params, *, folds: int = FOLDS
) -> CrossValidation | None:
    """:func:`measure` without the noise; None when a class has fewer than two training
    rows."""
    task, target = params.data.task, params.data.target
    train, test = split_frame(frame, target, params.split, classification=task.is_classification)
    if len(train) > MAX_ROWS:
        train = train.sample(MAX_ROWS, random_state=params.split.seed).reset_index(drop=True)
    X = model_frame(train, params.features)
    y = encode_target(train[target], task)
    # Folds keep a group's rows together as the split does (split.group_by), else a model
    # that recognises a group would be scored on rows of groups it has seen.
    groups = named_groups(train, params.split.group_by) if params.split.group_by else None
    if groups is not None:
        folds = min(folds, int(groups.max()) + 1)
        if folds < 2:
            return None
    splitter: KFold | StratifiedKFold | GroupKFold | StratifiedGroupKFold
    seed = params.split.seed
    if task.is_classification:
        smallest = int(pd.Series(y).value_counts().min())
        if smallest < 2:
            return None
        folds = min(folds, smallest)
        splitter = (
            StratifiedKFold(folds, shuffle=True, random_state=seed)
            if groups is None
            else StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
        )
    else:
        splitter = (
            KFold(folds, shuffle=True, random_state=seed)
            if groups is None
            else GroupKFold(folds, shuffle=True, random_state=seed)
        )
    guessed: list[dict[str, float]] = []
    modelled: list[dict[str, float]] = []
    held_out_predictions: list[tuple[np.ndarray, Predictions]] = []
    template = pipeline(params)
    for fit_rows, held_out in splitter.split(X, y, groups):
        with threads.sized_for(len(fit_rows)):
            model = clone(template).fit(X.iloc[fit_rows], y[fit_rows])
            predicted = _predict(task, model, X.iloc[held_out], y[held_out])
        modelled.append(scores(task, predicted, params.data.positive_class))
        held_out_predictions.append((held_out, predicted))
        guessed.append(_guess(task, params, y[fit_rows], y[held_out]))
    test_groups = (
        len(np.unique(named_groups(test, params.split.group_by))) if params.split.group_by else None
    )
    evidence = Evidence(
        folds=folds,
        rows=len(train),
        baseline=_mean(guessed),
        cross_validated=_mean(modelled),
        spread=_spread(modelled),
        test_rows=len(test),
    )
    return CrossValidation(
        evidence,
        params,
        _pooled(held_out_predictions),
        groups=None if groups is None else groups[_order(held_out_predictions)],
        test_groups=test_groups,
    )


def _predict(task: Task, model: object, X: pd.DataFrame, y: np.ndarray) -> Predictions:
    predicted = model.predict(X)  # type: ignore[attr-defined]
    if task is Task.REGRESSION:
        return Predictions(y, predicted.astype(np.float64))
    classes = tuple(str(c) for c in model.classes_)  # type: ignore[attr-defined]
    proba = model.predict_proba(X)  # type: ignore[attr-defined]
    return Predictions(y, predicted.astype(str).astype(object), proba, classes)


def _order(folds: list[tuple[np.ndarray, Predictions]]) -> np.ndarray:
    return np.concatenate([rows for rows, _ in folds])


def _pooled(folds: list[tuple[np.ndarray, Predictions]]) -> Predictions:
    """Every training row's held-out prediction, in fold order (each fold's model saw the
    same classes: the folds are stratified, and a class has at least one row per fold)."""
    parts = [p for _, p in folds]
    proba = None if parts[0].proba is None else np.concatenate([p.proba for p in parts])  # type: ignore[misc]
    return Predictions(
        np.concatenate([p.y_true for p in parts]),
        np.concatenate([p.y_pred for p in parts]),
        proba,
        parts[0].classes,
    )


# Resamples of the held-out predictions behind Evidence.noise: 100 give its standard
# deviation to within about 7% (the gate's slack is three of it). A larger test split is
# drawn at DRAWN_ROWS and its noise scaled by the square root of the sizes, as a mean's is:
# one scoring of 1,000 rows takes 8-15 ms here, so the whole takes a second or two.
RESAMPLES = 100
DRAWN_ROWS = 1_000


def sampling_noise(
    task: Task,
    params: Params,
    held_out: Predictions,
    *,
    test_rows: int,
    groups: np.ndarray | None = None,
    test_groups: int | None = None,
) -> dict[str, float]:
    """How far each metric on a test split of ``test_rows`` rows lands, by chance, from the
    same model's cross-validated score: a standard deviation.

    The bootstrap draws test splits from the training rows' held-out predictions (as the
    split draws them: by class, or by group) and scores each; their spread is the noise of
    one test split, widened by the cross-validated score's own (a mean over the training
    rows: the variances add, in proportion to the two sizes). This measures what the folds'
    spread, five numbers, estimates badly on a small table.
    """
    n = len(held_out.y_true)
    if test_rows < 2 or n < 2:
        return {}
    rng = np.random.default_rng(params.split.seed)
    stratified = task.is_classification and params.split.stratify
    drawn = min(test_rows, DRAWN_ROWS)
    drawn_groups = None if test_groups is None else max(1, round(test_groups * drawn / test_rows))
    draws: list[dict[str, float]] = []
    for _ in range(RESAMPLES):
        rows = _resample(rng, held_out, drawn, stratified, groups, drawn_groups)
        draws.append(scores(task, held_out.subset(rows), params.data.positive_class))
    names = set.intersection(*(set(d) for d in draws))
    widen = math.sqrt(drawn / test_rows) * math.sqrt(1 + test_rows / n)
    return {
        name: float(np.std([d[name] for d in draws], ddof=1)) * widen
        for name in sorted(names)
        if all(math.isfinite(d[name]) for d in draws)
    }


def _resample(
    rng: np.random.Generator,
    held_out: Predictions,
    size: int,
    stratified: bool,
    groups: np.ndarray | None,
    test_groups: int | None,
) -> np.ndarray:
    if groups is not None and test_groups:
        # Whole groups, as many as the test split holds (their rows vary as the split's do).
        names, members = np.unique(groups, return_inverse=True)
        chosen = rng.choice(len(names), size=test_groups, replace=True)
        by_group = np.argsort(members, kind="stable")
        starts = np.searchsorted(members[by_group], np.arange(len(names) + 1))
        return np.concatenate([by_group[starts[g] : starts[g + 1]] for g in chosen])
    if not stratified:
        return rng.integers(0, len(held_out.y_true), size=size)
    # Each class in its share of the test split, as the stratified split keeps it.
    labels = held_out.y_true.astype(str)
    values, counts = np.unique(labels, return_counts=True)
    wanted = np.maximum(1, np.round(counts / counts.sum() * size)).astype(int)
    return np.concatenate(
        [
            rng.choice(np.flatnonzero(labels == value), size=k, replace=True)
            for value, k in zip(values, wanted, strict=True)
        ]
    )


def _guess(task: Task, params: Params, seen: np.ndarray, held_out: np.ndarray) -> dict[str, float]:
    if task is Task.REGRESSION:
        return scores(task, Predictions(held_out, np.full(len(held_out), float(seen.mean()))))
    classes, counts = np.unique(seen.astype(str), return_counts=True)
    shares = counts / counts.sum()
    proba = np.tile(shares, (len(held_out), 1))
    majority = np.full(len(held_out), classes[int(np.argmax(counts))], dtype=object)
    predictions = Predictions(held_out, majority, proba, tuple(str(c) for c in classes))
    return scores(task, predictions, params.data.positive_class)


def _mean(per_fold: list[dict[str, float]]) -> dict[str, float]:
    names = set.intersection(*(set(fold) for fold in per_fold))
    return {name: float(np.mean([fold[name] for fold in per_fold])) for name in sorted(names)}


def _spread(per_fold: list[dict[str, float]]) -> dict[str, float]:
    names = set.intersection(*(set(fold) for fold in per_fold))
    return {name: float(np.std([fold[name] for fold in per_fold])) for name in sorted(names)}


# The metric that decides between two encodings of the categories.
DECIDING = {Task.BINARY: "roc_auc", Task.MULTICLASS: "roc_auc", Task.REGRESSION: "rmse"}


def better_encoding(task: Task, measured: dict[str, Evidence | None]) -> tuple[str, str]:
    """The first encoding, unless another's cross-validated deciding metric beats it by more
    than the first's standard deviation across folds (a smaller gain is the folds' noise:
    penguins' sex cross-validated at 0.9809 numbered against 0.9792 ± 0.013 one-hot and was
    worse numbered on its test split); and a line saying why."""
    metric = DECIDING[task]
    higher = metric in HIGHER_IS_BETTER
    first = next(iter(measured))
    found = {
        name: ev.cross_validated[metric]
        for name, ev in measured.items()
        if ev is not None and metric in ev.cross_validated
    }
    if len(found) < len(measured):
        return first, f"{first}: the others could not be cross-validated"
    noise = measured[first].spread.get(metric, 0.0)  # type: ignore[union-attr]
    best = first
    for name, value in found.items():
        gain = (value - found[best]) if higher else (found[best] - value)
        if name != first and gain > (noise if best == first else 0.0):
            best = name
    others = ", ".join(f"{found[n]:.4g} {n}" for n in found if n != best)
    return best, (
        f"{best}: cross-validated {metric} {found[best]:.4g} against {others} "
        f"(± {noise:.2g} across folds for {first})"
    )
