"""Degradation check: does the champion still score as well on labelled feedback?

``tabpipe degradation FEEDBACK`` runs the champion ONNX model (``--model``, default
``models/model.onnx``) on labelled rows that arrived after it was trained, computes the
same metrics as the ``evaluate`` stage, and compares each with the test metric recorded in
the model's own metadata at export. A metric fires when it is worse than the recorded one
by more than ``monitor.degradation.thresholds[metric]`` (absolute: a drop for accuracy,
precision, recall, F1, ROC AUC, R²; a rise for log loss, RMSE, MAE). Metrics without a
threshold are recorded only. Fewer labelled rows than ``monitor.degradation.min_rows``
are not scored (too noisy to act on).

The feedback is checked against the data contract first (label required); a batch that
breaks it is schema skew, not degradation. The model decides which features it reads
(its metadata), so an older champion is scored with its own inputs.

Reports: ``degradation.json`` and ``degradation.md`` in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from tabpipe.core.config import ConfigError, FeatureParams, Params, Task, load_params
from tabpipe.core.contract import ContractError, ValidationReport
from tabpipe.core.dvcfiles import file_md5
from tabpipe.core.exit_status import HELP, ExitStatus
from tabpipe.core.io import InputError, write_json, write_text
from tabpipe.core.metrics import HIGHER_IS_BETTER, KNOWN_METRICS, Predictions, scores
from tabpipe.core.model import encode_target
from tabpipe.core.onnx_model import run, session
from tabpipe.core.paths import MONITORING_DIR, PARAMS_FILE, PATHS
from tabpipe.monitoring.batch import check_batch

DEFAULT_OUT = MONITORING_DIR

# The thresholds a new project starts with (``tabpipe init`` writes them for its task): the
# template's for classification; for regression R², scale-free like them. RMSE and MAE are in
# the target's units, so a number for them is the user's to choose.
SUGGESTED_THRESHOLDS: dict[Task, dict[str, float]] = {
    Task.BINARY: {"roc_auc": 0.05, "accuracy": 0.05},
    Task.MULTICLASS: {"roc_auc": 0.05, "accuracy": 0.05},
    Task.REGRESSION: {"r2": 0.05},
}


class DegradationError(Exception):
    """The check cannot run: no champion model, or metadata it cannot use."""


@dataclass(frozen=True)
class Champion:
    path: str
    md5: str
    task: Task
    target: str
    positive_class: str | None
    features: FeatureParams
    metrics: dict[str, float]
    model_bytes: bytes = field(repr=False)


def load_champion(path: Path) -> Champion:
    if not path.exists():
        raise DegradationError(
            f"{path}: no champion model; run the pipeline (`make run`) or pass --model"
        )
    data = path.read_bytes()
    try:
        proto = onnx.load_from_string(data)
    except Exception as exc:  # onnx raises DecodeError and friends for a bad file
        raise DegradationError(f"{path}: not a readable ONNX model: {exc}") from exc
    meta = {p.key: p.value for p in proto.metadata_props}
    needed = ("task", "target", "features", "metrics")
    absent = [key for key in needed if key not in meta]
    if absent:
        raise DegradationError(f"{path}: metadata lacks {absent}; export it with `tabpipe export`")
    signature = json.loads(meta["features"])
    features = FeatureParams(
        numeric=[f["name"] for f in signature if f["kind"] == "numeric"],
        categorical=[f["name"] for f in signature if f["kind"] == "categorical"],
    )
    return Champion(
        path=str(path),
        md5=file_md5(path),
        task=Task(meta["task"]),
        target=meta["target"],
        positive_class=meta.get("positive_class") or None,
        features=features,
        metrics={k: float(v) for k, v in json.loads(meta["metrics"]).items()},
        model_bytes=data,
    )


@dataclass(frozen=True)
class MetricCheck:
    metric: str
    champion: float  # the test metric recorded at export
    now: float  # on the feedback
    threshold: float | None

    @property
    def worsening(self) -> float:
        """How much worse now is (positive = worse), whichever direction is better."""
        change = self.now - self.champion
        return -change if self.metric in HIGHER_IS_BETTER else change

    @property
    def degraded(self) -> bool:
        return self.threshold is not None and self.worsening > self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "worsening": round(self.worsening, 6), "degraded": self.degraded}


@dataclass(frozen=True)
class DegradationReport:
    feedback: str
    rows: int
    model: str
    model_md5: str
    validation: ValidationReport
    checks: list[MetricCheck]
    min_rows: int
    not_applicable: list[str] = field(default_factory=list)  # thresholds for other tasks
    applicable: list[str] = field(default_factory=list)  # thresholds on the model's metrics

    @property
    def schema_skew(self) -> bool:
        return not self.validation.ok

    @property
    def scored(self) -> bool:
        return not self.schema_skew and self.rows >= self.min_rows

    @property
    def degraded(self) -> list[str]:
        return [c.metric for c in self.checks if c.degraded]

    @property
    def status(self) -> ExitStatus:
        if self.schema_skew:
            return ExitStatus.SCHEMA_SKEW
        return ExitStatus.DEGRADATION if self.degraded else ExitStatus.NONE

    def to_dict(self) -> dict[str, Any]:
        return {
            "feedback": self.feedback,
            "rows": self.rows,
            "model": self.model,
            "model_md5": self.model_md5,
            "trigger": self.status.kind,
            "exit_status": int(self.status),
            "scored": self.scored,
            "min_rows": self.min_rows,
            "degraded_metrics": self.degraded,
            "not_applicable": self.not_applicable,
            "applicable": self.applicable,
            "schema": self.validation.to_dict(),
            "metrics": [c.to_dict() for c in self.checks],
        }

    def summary(self) -> str:
        head = f"{self.feedback}: {self.rows} labelled rows scored by {self.model}"
        lines = [head]
        if self.schema_skew:
            lines.append(f"SCHEMA SKEW: {len(self.validation.failures)} contract problem(s)")
            lines += [f"  - {failure.describe()}" for failure in self.validation.failures]
        elif not self.scored:
            lines.append(
                f"  not scored: fewer than {self.min_rows} rows (monitor.degradation.min_rows)"
            )
        for c in self.checks:
            limit = "no threshold" if c.threshold is None else f"max worsening {c.threshold:g}"
            mark = "WORSE" if c.degraded else "ok"
            lines.append(
                f"  {mark:<5} {c.metric:<10} {c.champion:.4f} -> {c.now:.4f} "
                f"(worse by {c.worsening:+.4f}; {limit})"
            )
        if self.not_applicable:
            lines.append(
                f"  thresholds on {', '.join(self.not_applicable)} do not apply to this model"
                + (
                    ""
                    if self.applicable
                    else "; none does, so nothing can fire: set monitor.degradation.thresholds "
                    "for this model's metrics (docs/monitoring.md)"
                )
            )
        verdict = {
            ExitStatus.SCHEMA_SKEW: "schema skew: stop, a human must look",
            ExitStatus.DEGRADATION: f"degradation in {', '.join(self.degraded)}: retrain",
            ExitStatus.NONE: "no degradation beyond the thresholds",
        }[self.status]
        return "\n".join([*lines, f"=> {verdict}"])

    def markdown(self) -> str:
        verdict = {
            ExitStatus.SCHEMA_SKEW: "❌ **schema skew**: the feedback breaks the data contract. "
            "Not scored, not retraining: a human must look.",
            ExitStatus.DEGRADATION: "🔴 **degradation** in "
            + ", ".join(f"`{m}`" for m in self.degraded)
            + ": retraining is triggered.",
            ExitStatus.NONE: "✅ **no degradation** beyond the configured thresholds."
            if self.scored
            else f"⚪ **not scored**: {self.rows} rows, fewer than `min_rows` ({self.min_rows}).",
        }[self.status]
        lines = [
            f"## Degradation check: `{self.feedback}`",
            "",
            f"{self.rows:,} labelled rows scored by the champion `{self.model}` "
            f"(md5 `{self.model_md5[:12]}`), compared with the test metrics recorded when it "
            "was exported.",
            "",
            verdict,
        ]
        if self.schema_skew:
            lines += ["", "| column | check | failing rows | examples |", "|---|---|---:|---|"]
            for failure in self.validation.failures:
                examples = ", ".join(f"`{e}`" for e in failure.examples)
                column = failure.column or "(table)"
                lines.append(f"| {column} | `{failure.check}` | {failure.count} | {examples} |")
        if self.checks:
            lines += [
                "",
                "| metric | champion (test) | feedback | worse by | threshold | verdict |",
                "|---|---:|---:|---:|---:|---|",
            ]
            for c in self.checks:
                threshold = "n/a" if c.threshold is None else f"{c.threshold:g}"
                if c.threshold is None:
                    verdict_cell = "recorded only"
                else:
                    verdict_cell = "🔴 worse" if c.degraded else "✅ ok"
                lines.append(
                    f"| `{c.metric}` | {c.champion:.4f} | {c.now:.4f} | {c.worsening:+.4f} "
                    f"| {threshold} | {verdict_cell} |"
                )
        if self.not_applicable:
            names = ", ".join(f"`{m}`" for m in self.not_applicable)
            lines += ["", f"Thresholds not applicable to this model's task: {names}."]
            if not self.applicable:
                lines[-1] += (
                    " **No threshold applies to its metrics, so degradation can never fire:** "
                    "set `monitor.degradation.thresholds` in `params.yaml`."
                )
        return "\n".join(lines) + "\n"


def check_thresholds(thresholds: Mapping[str, float]) -> None:
    unknown = sorted(set(thresholds) - KNOWN_METRICS)
    if unknown:
        raise ConfigError(
            f"params.yaml: monitor.degradation.thresholds names unknown metrics {unknown}; "
            f"known: {sorted(KNOWN_METRICS)}"
        )


def feedback_metrics(champion: Champion, frame: Any) -> dict[str, float]:
    """The champion's metrics on labelled rows, computed as the evaluate stage does."""
    out = run(session(champion.model_bytes), frame, champion.features)
    y_true = encode_target(frame[champion.target], champion.task)
    if champion.task.is_classification:
        if out.proba is None or not np.isfinite(out.proba).all():
            raise DegradationError("the model returned missing or non-finite probabilities")
        classes = _classes(champion)
        predictions = Predictions(y_true, out.labels.astype(object), out.proba, classes)
    else:
        predictions = Predictions(y_true, out.labels)
    return scores(champion.task, predictions, champion.positive_class)


def _classes(champion: Champion) -> tuple[str, ...]:
    proto = onnx.load_from_string(champion.model_bytes)
    meta = {p.key: p.value for p in proto.metadata_props}
    return tuple(str(c) for c in json.loads(meta.get("classes", "[]")))


def check_degradation(
    feedback: Path, params: Params, model: Path = PATHS.onnx_model
) -> DegradationReport:
    settings = params.monitor.degradation
    check_thresholds(settings.thresholds)
    champion = load_champion(model)
    batch = check_batch(feedback, params, require_label=True)
    rows = 0 if batch.frame is None else len(batch.frame)
    applicable = {k: v for k, v in settings.thresholds.items() if k in champion.metrics}
    not_applicable = sorted(set(settings.thresholds) - set(applicable))
    checks: list[MetricCheck] = []
    if batch.valid is not None and rows >= settings.min_rows:
        now = feedback_metrics(champion, batch.valid)
        checks = [
            MetricCheck(name, champion.metrics[name], value, applicable.get(name))
            for name, value in now.items()
            if name in champion.metrics
        ]
    return DegradationReport(
        str(feedback),
        rows,
        champion.path,
        champion.md5,
        batch.report,
        checks,
        settings.min_rows,
        not_applicable,
        sorted(applicable),
    )


def write_reports(report: DegradationReport, out: Path) -> tuple[Path, Path]:
    json_path, md_path = out / "degradation.json", out / "degradation.md"
    write_json(json_path, report.to_dict())
    write_text(md_path, report.markdown())
    return json_path, md_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tabpipe degradation",
        description=(__doc__ or "").split("\n\n")[0]
        + " Scores FEEDBACK (labelled rows) with the champion model.",
        epilog=HELP,
    )
    parser.add_argument("feedback", type=Path, help="labelled rows (CSV or Parquet)")
    parser.add_argument(
        "--model", type=Path, default=PATHS.onnx_model, help="the champion ONNX model"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder")
    parser.add_argument("--params", type=Path, default=PARAMS_FILE)
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        report = check_degradation(args.feedback, params, args.model)
    except (ConfigError, ContractError, DegradationError, InputError) as exc:
        print(f"[degradation] ERROR: {exc}", file=sys.stderr)
        return int(ExitStatus.ERROR)
    json_path, md_path = write_reports(report, args.out)
    print(report.summary())
    print(f"[degradation] reports: {json_path}, {md_path}")
    return int(report.status)


if __name__ == "__main__":
    sys.exit(main())
