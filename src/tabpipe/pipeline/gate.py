"""Stage ``gate``: bless the candidate model or not, with the semantics of TFX's Evaluator.

Thresholds live in ``params.yaml`` (``gate``): per metric a value threshold (an absolute
floor ``lower_bound`` and/or ceiling ``upper_bound``) and a change threshold against the
champion (``absolute`` and/or ``relative``, with a ``direction``), for the whole test split
(``thresholds``) and for every slice in ``metrics/slices.json`` (``slice_thresholds``).

As in TFX:

- no champion yet (nothing assigned to ``prod`` in the git registry): only value
  thresholds apply; change thresholds are listed as skipped;
- no thresholds configured at all: nothing is blessed (fail closed);
- a threshold on a metric the evaluation did not produce fails ("metric not found"), and
  slice thresholds with no slice to apply to fail too.

The champion comes from ``reports/champion.json`` (``tabpipe champion`` writes it from git
tags before ``dvc repro``). The verdict goes to ``reports/gate.json`` (every check: metric,
slice, threshold, value, pass/fail) and ``reports/gate.md``. With ``gate.fail_on_reject``
the stage then exits non-zero, which fails ``dvc repro`` and so the pull-request check;
everything upstream has already been recorded by then.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from tabpipe.core.config import ChangeThreshold, GateParams, MetricThreshold, Params, Task
from tabpipe.core.dvcfiles import file_md5
from tabpipe.core.io import InputError, read_json, read_json_object, write_json, write_text
from tabpipe.core.metrics import UNDEFINED_WHEN
from tabpipe.core.paths import CHAMPION_FILE, PATHS
from tabpipe.core.stage import StageFailed, log, run_stage

OVERALL = "overall"
# Change values are rounded before comparing so that 0.852388 - 0.862388 is exactly -0.01.
CHANGE_DIGITS = 9

Metrics = Mapping[str, float]
SliceMetrics = Mapping[str, Mapping[str, Mapping[str, float]]]  # feature -> value -> metrics


@dataclass(frozen=True)
class Evaluation:
    """One model's metrics: the whole test split and each slice."""

    overall: Metrics
    slices: SliceMetrics = field(default_factory=dict)

    def slice_metrics(self, name: str) -> Metrics | None:
        if name == OVERALL:
            return self.overall
        feature, _, value = name.partition("=")
        return self.slices.get(feature, {}).get(value)


@dataclass(frozen=True)
class Champion:
    """The model in prod: which version, at which commit, and its evaluation."""

    version: str
    commit: str
    evaluation: Evaluation


CheckKind = Literal["lower_bound", "upper_bound", "absolute_change", "relative_change"]


@dataclass(frozen=True)
class Check:
    """One comparison: a metric on a slice against one bound."""

    metric: str
    slice: str
    kind: CheckKind
    threshold: str
    value: float | None  # the metric (value thresholds) or the change (change thresholds)
    candidate: float | None
    baseline: float | None  # the champion's value, for change thresholds
    passed: bool
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.metric} ({self.slice}) {self.kind.replace('_', ' ')}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **asdict(self)}


@dataclass(frozen=True)
class Skipped:
    """A threshold that could not apply, and why (no champion, or no champion slice)."""

    metric: str
    slice: str
    kind: str
    threshold: str
    reason: str


@dataclass(frozen=True)
class Verdict:
    blessed: bool
    reason: str
    champion: Champion | None
    checks: list[Check]
    skipped: list[Skipped]

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self, model_md5: str | None = None) -> dict[str, Any]:
        champion = None
        if self.champion is not None:
            champion = {"version": self.champion.version, "commit": self.champion.commit}
        return {
            "blessed": self.blessed,
            "ok": self.blessed,
            "reason": self.reason,
            "model_md5": model_md5,
            "champion": champion,
            "checked": len(self.checks),
            "failed": len(self.failures),
            "checks": [c.to_dict() for c in self.checks],
            "skipped": [asdict(s) for s in self.skipped],
        }


# --- the pure core --------------------------------------------------------------------------


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _change_symbol(change: ChangeThreshold) -> str:
    return ">=" if change.direction == "higher_is_better" else "<="


def _value_checks(
    metric: str, where: str, threshold: MetricThreshold, value: float | None, present: bool
) -> list[Check]:
    checks = []
    if threshold.lower_bound is not None:
        text = f">= {_fmt(threshold.lower_bound)}"
        passed = value is not None and value >= threshold.lower_bound
        checks.append(
            Check(
                metric, where, "lower_bound", text, value, value, None, passed, _why(value, present)
            )
        )
    if threshold.upper_bound is not None:
        text = f"<= {_fmt(threshold.upper_bound)}"
        passed = value is not None and value <= threshold.upper_bound
        checks.append(
            Check(
                metric, where, "upper_bound", text, value, value, None, passed, _why(value, present)
            )
        )
    return checks


def _why(value: float | None, present: bool) -> str:
    if value is not None:
        return ""
    return "metric not found" if not present else "metric is not a finite number"


def _explained(checks: list[Check], metric: str, where: str, metrics: Metrics) -> list[Check]:
    """Say why a metric is missing where the evaluation leaves undefined metrics out."""
    if metric in metrics or metric not in UNDEFINED_WHEN or not metrics:
        return checks
    rows = metrics.get("rows")
    size = f" ({int(rows)} rows)" if isinstance(rows, int | float) else ""
    note = (
        f"metric not found: {UNDEFINED_WHEN[metric]}{size}; raise evaluate.min_slice_size to "
        f"leave such slices out, or remove {metric} from gate.slice_thresholds"
        if where != OVERALL
        else f"metric not found: {UNDEFINED_WHEN[metric]}"
    )
    return [replace(c, note=note) if c.note == "metric not found" else c for c in checks]


def _change_checks(
    metric: str,
    where: str,
    change: ChangeThreshold,
    value: float | None,
    present: bool,
    baseline: float | None,
) -> list[Check]:
    symbol = _change_symbol(change)
    higher = change.direction == "higher_is_better"
    wanted: list[tuple[CheckKind, float, str]] = []
    if change.absolute is not None:
        wanted.append(
            ("absolute_change", change.absolute, f"change {symbol} {change.absolute:+.6g}")
        )
    if change.relative is not None:
        text = f"relative change {symbol} {change.relative:+.2%}"
        wanted.append(("relative_change", change.relative, text))
    checks = []
    for kind, limit, text in wanted:
        if value is None or baseline is None:
            measured, note = None, _why(value, present)
        elif kind == "relative_change" and math.isclose(baseline, 0.0, abs_tol=1e-12):
            measured, note = None, "the champion's value is 0: a relative change is undefined"
        else:
            diff = value - baseline
            measured = round(
                diff if kind == "absolute_change" else diff / abs(baseline), CHANGE_DIGITS
            )
            note = ""
        passed = measured is not None and (measured >= limit if higher else measured <= limit)
        checks.append(Check(metric, where, kind, text, measured, value, baseline, passed, note))
    return checks


def _change_texts(change: ChangeThreshold) -> list[tuple[str, str]]:
    symbol = _change_symbol(change)
    out = []
    if change.absolute is not None:
        out.append(("absolute_change", f"change {symbol} {change.absolute:+.6g}"))
    if change.relative is not None:
        out.append(("relative_change", f"relative change {symbol} {change.relative:+.2%}"))
    return out


def _apply(
    metric: str,
    where: str,
    threshold: MetricThreshold,
    candidate: Metrics,
    champion: Champion | None,
) -> tuple[list[Check], list[Skipped]]:
    present = metric in candidate
    value = _finite(candidate.get(metric))
    checks = _explained(
        _value_checks(metric, where, threshold, value, present), metric, where, candidate
    )
    skipped: list[Skipped] = []
    if threshold.change is None:
        return checks, skipped
    if champion is None:
        reason = "no champion yet: change thresholds do not apply"
        skipped += [
            Skipped(metric, where, k, t, reason) for k, t in _change_texts(threshold.change)
        ]
        return checks, skipped
    baseline_metrics = champion.evaluation.slice_metrics(where)
    baseline = None if baseline_metrics is None else _finite(baseline_metrics.get(metric))
    if baseline is None:
        reason = (
            f"champion {champion.version} has no {metric} for {where}"
            if baseline_metrics is not None
            else f"champion {champion.version} has no slice {where}"
        )
        skipped += [
            Skipped(metric, where, k, t, reason) for k, t in _change_texts(threshold.change)
        ]
        return checks, skipped
    checks += _explained(
        _change_checks(metric, where, threshold.change, value, present, baseline),
        metric,
        where,
        candidate,
    )
    return checks, skipped


def slice_names(slices: SliceMetrics) -> list[str]:
    return [f"{feature}={value}" for feature, values in slices.items() for value in values]


def evaluate_thresholds(
    candidate: Evaluation, gate: GateParams, champion: Champion | None
) -> Verdict:
    """Check every configured threshold; blessed only if some are configured and none fail."""
    if not gate.thresholds and not gate.slice_thresholds:
        return Verdict(
            False,
            "no thresholds configured in params.yaml (gate.thresholds, gate.slice_thresholds): "
            "nothing is blessed",
            champion,
            [],
            [],
        )
    checks: list[Check] = []
    skipped: list[Skipped] = []
    for metric, threshold in gate.thresholds.items():
        found, missed = _apply(metric, OVERALL, threshold, candidate.overall, champion)
        checks += found
        skipped += missed
    names = slice_names(candidate.slices)
    for metric, threshold in gate.slice_thresholds.items():
        if not names:
            checks.append(
                Check(
                    metric,
                    "(no slices)",
                    "lower_bound" if threshold.lower_bound is not None else "upper_bound",
                    "slice thresholds configured",
                    None,
                    None,
                    None,
                    False,
                    "no slices were evaluated (evaluate.slice_by is empty, or every slice is "
                    "below evaluate.min_slice_size)",
                )
            )
            continue
        for name in names:
            metrics = candidate.slice_metrics(name) or {}
            found, missed = _apply(metric, name, threshold, metrics, champion)
            checks += found
            skipped += missed
    failed = [c for c in checks if not c.passed]
    against = (
        f"champion {champion.version}" if champion else "no champion yet (value thresholds only)"
    )
    if failed:
        reason = f"{len(failed)} of {len(checks)} checks failed against {against}"
    else:
        reason = f"all {len(checks)} checks passed against {against}"
    return Verdict(not failed, reason, champion, checks, skipped)


# --- rendering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedVerdict:
    """``reports/gate.json`` read back: what the gate decided, about which model.

    Everything that reads the verdict (the PR report, the bundle, the model card, the deploy
    plan, sweeps) reads it through :meth:`read` or :meth:`from_dict`, so the file's shape is
    known in one place: here, beside :meth:`Verdict.to_dict` that writes it.
    """

    blessed: bool
    reason: str
    model_md5: str | None
    champion_version: str | None
    champion_commit: str | None
    checks: list[Check]
    skipped: list[Skipped]

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecordedVerdict:
        champion = data.get("champion")
        champion = champion if isinstance(champion, Mapping) else {}
        checks = [
            Check(**{k: c[k] for k in Check.__dataclass_fields__ if k in c})
            for c in data.get("checks") or []
        ]
        skipped = [Skipped(**s) for s in data.get("skipped") or []]
        return cls(
            blessed=bool(data["blessed"]),
            reason=str(data.get("reason") or ""),
            model_md5=data.get("model_md5"),
            champion_version=champion.get("version"),
            champion_commit=champion.get("commit"),
            checks=checks,
            skipped=skipped,
        )

    @classmethod
    def read(cls, path: Path = PATHS.gate_verdict) -> RecordedVerdict | None:
        """The verdict on disk; None if the gate has not run; InputError if unreadable."""
        if not path.exists():
            return None
        data = read_json_object(path)
        try:
            if data is None:
                raise ValueError("not a JSON object")
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: not a gate verdict ({exc}); run `make run`") from exc


def _value(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "relative_change":
        return f"{float(value):+.2%}"
    if kind == "absolute_change":
        return f"{float(value):+.4f}"
    return f"{float(value):.4f}"


def _row(check: Check) -> str:
    value = _value(check.value, check.kind)
    if check.kind.endswith("_change") and check.candidate is not None:
        value += f" ({check.candidate:.4f} vs {float(check.baseline or 0):.4f})"
    result = "✅ pass" if check.passed else "❌ fail"
    note = f" ({check.note})" if check.note else ""
    return f"| `{check.metric}` | {check.slice} | `{check.threshold}` | {value} | {result}{note} |"


def verdict_markdown(verdict: RecordedVerdict, *, heading: str = "####") -> str:
    """The verdict as Markdown: reports/gate.md, the PR report and the model card.

    A headline, the failed checks in full, then every check in a collapsed table.
    """
    against = (
        f"Champion: `{verdict.champion_version}` (commit `{str(verdict.champion_commit)[:7]}`), "
        "the model in prod."
        if verdict.champion_version
        else "No champion in prod yet: only value thresholds apply."
    )
    mark = "✅ blessed" if verdict.blessed else "❌ not blessed"
    lines = [f"{heading} Model gate: {mark}", "", f"{verdict.reason}. {against}", ""]
    header = ["| metric | slice | threshold | value | result |", "|---|---|---|---|---|"]
    if verdict.failures:
        lines += ["Failed checks:", "", *header, *(_row(c) for c in verdict.failures), ""]
    if verdict.checks:
        lines += [
            f"<details><summary>All {len(verdict.checks)} checks</summary>",
            "",
            *header,
            *(_row(c) for c in verdict.checks),
            "",
            "</details>",
            "",
        ]
    if verdict.skipped:
        reasons = sorted({s.reason for s in verdict.skipped})
        count = len(verdict.skipped)
        lines += [f"{count} change threshold(s) not applied: {'; '.join(reasons)}.", ""]
    return "\n".join(lines).rstrip() + "\n"


# --- the stage ------------------------------------------------------------------------------


def load_champion(path: Path = CHAMPION_FILE) -> Champion | None:
    """The champion recorded by ``tabpipe champion``; None when prod has no version yet."""
    if not path.exists():
        raise InputError(
            f"{path}: not found. Run `tabpipe champion` (make run does) to resolve the "
            "champion from the git registry before `dvc repro`"
        )
    try:
        data = read_json(path)
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    if not data.get("version"):
        return None
    metrics = data.get("metrics")
    if not isinstance(metrics, dict):
        raise InputError(f"{path}: champion {data['version']} has no metrics")
    slices = data.get("slices")
    if not isinstance(slices, dict):
        slices = {}
    return Champion(str(data["version"]), str(data.get("commit", "")), Evaluation(metrics, slices))


def _md5(path: Path) -> str | None:
    return file_md5(path) if path.exists() else None


@dataclass(frozen=True)
class Evidence:
    """What onboarding measured before the first model: a guess and the default model.

    ``baseline``: a model that ignores the features (the training split's class shares, or
    its mean), scored on held-out folds; ``cross_validated``: the default model's mean
    score over the same folds, ``spread`` the standard deviation across them. ``noise``:
    how far a score on a test split of ``test_rows`` rows typically lands from the
    cross-validated one by the luck of which rows it holds (a standard deviation, from
    resampling the folds' held-out predictions; :mod:`tabpipe.onboarding.evidence`).
    """

    folds: int
    rows: int  # training rows the folds were cut from
    baseline: Metrics
    cross_validated: Metrics
    spread: Metrics
    test_rows: int = 0
    noise: Metrics = field(default_factory=dict)


# Per gated metric: how far a model must beat the guess (absolute for bounded metrics,
# relative for rmse and log loss) and how far below its cross-validated score the first
# model may land: at least this, at least three standard deviations across folds, and at
# least three of the test split's own noise (Evidence.noise). The folds' spread alone was
# too small by luck on small tables: iris, 150 rows, folds at accuracy 0.95 ± 0.017 gave
# accuracy >= 0.901, and the first model scored 27/30 = 0.900 on its 30-row test split,
# where one row is 0.033 and the binomial standard deviation 0.04.
BEAT_GUESS = {"roc_auc": 0.05, "accuracy": 0.02, "r2": 0.05, "log_loss": 0.05}
# ... but by no more than a tenth of the way from the guess to a perfect score: where the
# majority class is 95.6% of the rows (breast cancer thinned to 16 malignant in 373), 0.02
# accuracy asked the model to remove 45% of the guess's errors, which a 75-row test split
# cannot show (a row is 0.013); ROC AUC is the check of ranking there.
PERFECT = {"roc_auc": 1.0, "accuracy": 1.0, "r2": 1.0}
CV_SLACK = {"roc_auc": 0.03, "accuracy": 0.03, "r2": 0.05, "log_loss": 0.15, "rmse": 0.1}
RELATIVE = {"log_loss", "rmse"}
# Metrics in the target's units get no bound from the guess: a test split whose targets
# spread wider than the training folds' scores a higher RMSE for the same model. On the RAND
# health insurance data (doctor visits, a long tail) the guess's 4.44 on the folds gave
# rmse <= 4.21, and the first model, R² 0.130 on its test split (0.152 on the folds), was
# refused at 4.40. R², scale-free, holds the model to beating the guess.
IN_TARGET_UNITS = {"rmse"}
# Metrics with a value threshold from evidence; log loss is compared with the champion only:
# boosted trees' probabilities are often overconfident on a small test split (Seattle
# weather: test log loss 1.24 where the folds said 0.98 and the class shares score 1.19,
# while its accuracy and ROC AUC beat the guess well), so a value bound refused good models.
GATED = {
    Task.BINARY: ("roc_auc", "accuracy"),
    Task.MULTICLASS: ("roc_auc", "accuracy"),
    Task.REGRESSION: ("r2", "rmse"),
}
CHANGE = {
    "accuracy": {"direction": "higher_is_better", "absolute": -0.02},
    "roc_auc": {"direction": "higher_is_better", "absolute": -0.02},
    "log_loss": {"direction": "lower_is_better", "relative": 0.1},
    "r2": {"direction": "higher_is_better", "absolute": -0.02},
    "rmse": {"direction": "lower_is_better", "relative": 0.05},
}
SLICE_CHANGE = {
    Task.BINARY: {"accuracy": {"change": {"direction": "higher_is_better", "absolute": -0.1}}},
    Task.MULTICLASS: {"accuracy": {"change": {"direction": "higher_is_better", "absolute": -0.1}}},
    Task.REGRESSION: {"rmse": {"change": {"direction": "lower_is_better", "relative": 0.15}}},
}


def suggested_thresholds(task: Task, evidence: Evidence | None = None) -> dict[str, Any]:
    """A starting ``gate`` group for a task (used when onboarding a new dataset).

    With ``evidence``, each gated metric gets a value threshold that a model no better than
    guessing fails (the guess's score plus a margin) and that the default model, as cross-
    validated, passes (its score minus a slack): the stricter of the two. Without it, only
    change thresholds against the champion and ROC AUC above chance. Review them for your
    data: :func:`threshold_notes` says where each number came from.
    """
    overall: dict[str, Any] = {}
    compared = (*GATED[task], *(("log_loss",) if task.is_classification else ()))
    for metric in compared:
        entry: dict[str, Any] = {}
        if evidence is not None and metric in GATED[task] and metric in evidence.cross_validated:
            bound, _ = _bound(metric, evidence)
            entry["lower_bound" if _higher(metric) else "upper_bound"] = bound
        elif metric == "roc_auc":
            entry["lower_bound"] = 0.6
        elif metric == "r2":
            entry["lower_bound"] = 0.0
        entry["change"] = dict(CHANGE[metric])
        overall[metric] = entry
    return {
        "fail_on_reject": True,
        "thresholds": overall,
        "slice_thresholds": {k: dict(v) for k, v in SLICE_CHANGE[task].items()},
    }


def _higher(metric: str) -> bool:
    return CHANGE[metric]["direction"] == "higher_is_better"


def threshold_notes(task: Task, evidence: Evidence) -> list[str]:
    """One line per value threshold :func:`suggested_thresholds` sets: its number and why."""
    notes = []
    for metric in GATED[task]:
        if metric in evidence.cross_validated:
            notes.append(_bound(metric, evidence)[1])
    return notes


def _bound(metric: str, evidence: Evidence) -> tuple[float, str]:
    higher = _higher(metric)
    guess, cv = evidence.baseline.get(metric), evidence.cross_validated[metric]
    spread = evidence.spread.get(metric, 0.0)
    noise = evidence.noise.get(metric, 0.0)
    relative = metric in RELATIVE
    slack = max(CV_SLACK[metric] * (abs(cv) if relative else 1.0), 3 * spread, 3 * noise)
    from_cv = cv - slack if higher else cv + slack
    from_guess = from_cv
    if guess is not None and metric not in IN_TARGET_UNITS:
        beat = BEAT_GUESS[metric] * (abs(guess) if relative else 1.0)
        if metric in PERFECT:
            beat = min(beat, (PERFECT[metric] - guess) / 10)
        from_guess = guess + beat if higher else guess - beat
    stricter = max(from_cv, from_guess) if higher else min(from_cv, from_guess)
    bound = _round_toward(stricter, up=higher)
    sign = ">=" if higher else "<="
    why = (
        f"{metric} {sign} {bound:.6g}: the default model cross-validated at {cv:.4g} "
        f"(± {spread:.2g} over {evidence.folds} folds of {evidence.rows} training rows)"
    )
    if noise:
        why += f"; a test split of {evidence.test_rows} rows lands within about ± {noise:.2g} of it"
    if guess is not None:
        why += f"; a guess that ignores the features scores {guess:.4g}"
        if metric in IN_TARGET_UNITS:
            why += " (r2 holds the model to beating it: rmse follows the test targets' spread)"
    if stricter != from_cv:
        beats = cv >= from_guess if higher else cv <= from_guess
        why += ", and a model must beat it by a margin: " + (
            f"the default model does on average, but its folds vary too much to promise "
            f"it (the cross-validated score less its slack is {from_cv:.4g}), so the "
            "first model may be refused on this test split"
            if beats
            else "the default model is not clearly better than the guess, expect the gate "
            "to refuse it"
        )
    return bound, why


def _round_toward(value: float, *, up: bool) -> float:
    """Three significant digits, rounded so that the rounding never loosens the bound."""
    if value == 0 or not math.isfinite(value):
        return value
    step = 10.0 ** (math.floor(math.log10(abs(value))) - 2)
    digits = max(0, -math.floor(math.log10(step)))
    return round((math.ceil if up else math.floor)(value / step) * step, digits)


def _body(params: Params) -> None:
    candidate = Evaluation(read_json(PATHS.test_metrics), read_json(PATHS.slice_metrics))
    champion = load_champion()
    verdict = evaluate_thresholds(candidate, params.gate, champion)
    payload = verdict.to_dict(model_md5=_md5(PATHS.onnx_model))
    write_json(PATHS.gate_verdict, payload)
    write_text(
        PATHS.gate_summary, verdict_markdown(RecordedVerdict.from_dict(payload), heading="##")
    )
    for check in verdict.failures:
        shown = "—" if check.value is None else f"{check.value:.6g}"
        note = f" ({check.note})" if check.note else ""
        log("gate", f"FAIL {check.metric} [{check.slice}] {check.threshold}: {shown}{note}")
    log("gate", f"{'BLESSED' if verdict.blessed else 'NOT BLESSED'}: {verdict.reason}")
    if not verdict.blessed and params.gate.fail_on_reject:
        raise StageFailed(
            f"the model is not blessed: {verdict.reason}. The verdict is in "
            f"{PATHS.gate_verdict} and {PATHS.gate_summary}; set gate.fail_on_reject: false "
            "to record a rejection without failing the pipeline"
        )


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage("gate", __doc__ or "", _body, argv)


if __name__ == "__main__":
    sys.exit(main())
