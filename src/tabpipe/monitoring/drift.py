"""Drift check: is a new batch still the data the model was trained on?

``tabpipe drift BATCH`` answers in two parts, as TFX's ExampleValidator does:

1. **Schema skew**: the batch against the data contract (column rules only; the label may
   be absent). Any failure is schema skew: retraining on it would be wrong, a human must
   look.
2. **Value drift**, per feature, against the training split's profile
   (``reports/reference_profile.json``, written by the ``profile`` stage), with TFDV's
   measures:

   - numeric: **Jensen-Shannon divergence**, base 2, in [0, 1], between the reference
     histogram and the batch binned with the *same* edges, plus three more buckets in both:
     below the reference range, above it, and missing. It is computed as the square of
     ``scipy.spatial.distance.jensenshannon(p, q, base=2)``, which returns the JS
     *distance* (the square root of the divergence). TFDV differs in two details: it
     re-buckets the two histograms onto the union of their boundaries, and it puts missing
     values in buckets that never match; here a missing share that did not change is not
     drift, one that did is.
   - categorical: **L-infinity distance**, the largest absolute difference between a
     category's share in the reference and in the batch; missing counts as a category.

   Each feature's value is compared with ``monitor.drift.thresholds[feature]`` (in [0, 1)).
   As in TFDV there is no default: a feature without a threshold is measured and recorded
   but never fires. Every distance is recorded, over its threshold or not.

Reports: ``drift.json`` and ``drift.md`` in ``--out`` (default ``build/monitoring``).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon

from tabpipe.core.config import ConfigError, Params, load_params
from tabpipe.core.contract import ContractError, ValidationReport
from tabpipe.core.exit_status import HELP, ExitStatus
from tabpipe.core.io import InputError, read_json, write_json, write_text
from tabpipe.core.paths import MONITORING_DIR, PARAMS_FILE, PATHS
from tabpipe.monitoring.batch import Batch, check_batch
from tabpipe.pipeline.profile import (
    PROFILE_VERSION,
    bin_counts,
    category_counts,
    numeric_summary,
    numeric_values,
)

DEFAULT_OUT = MONITORING_DIR
JS = "jensen_shannon_divergence"
LINF = "l_infinity_distance"
MEASURE_LABEL = {JS: "JS divergence", LINF: "L∞ distance"}
NOT_APPLICABLE = "n/a"


class DriftError(Exception):
    """The check cannot run: no reference profile, or one that does not fit the params."""


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    kind: str
    measure: str
    value: float | None  # None: not measurable (the column is missing from the batch)
    threshold: float | None  # None: not configured, so it never fires
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def drifted(self) -> bool:
        return self.value is not None and self.threshold is not None and self.value > self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drifted": self.drifted}


@dataclass(frozen=True)
class DriftReport:
    batch: str
    rows: int
    reference: str
    reference_rows: int
    validation: ValidationReport
    features: list[FeatureDrift]

    @property
    def schema_skew(self) -> bool:
        return not self.validation.ok

    @property
    def drifted(self) -> list[str]:
        return [f.name for f in self.features if f.drifted]

    @property
    def status(self) -> ExitStatus:
        if self.schema_skew:
            return ExitStatus.SCHEMA_SKEW
        return ExitStatus.DRIFT if self.drifted else ExitStatus.NONE

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "rows": self.rows,
            "reference": self.reference,
            "reference_rows": self.reference_rows,
            "trigger": self.status.kind,
            "exit_status": int(self.status),
            "schema_skew": self.schema_skew,
            "drifted_features": self.drifted,
            "schema": self.validation.to_dict(),
            "features": [f.to_dict() for f in self.features],
        }

    def summary(self) -> str:
        lines = [
            f"{self.batch}: {self.rows} rows vs the training split ({self.reference_rows} rows)"
        ]
        if self.schema_skew:
            lines.append(f"SCHEMA SKEW: {len(self.validation.failures)} contract problem(s)")
            lines += [f"  - {failure.describe()}" for failure in self.validation.failures]
        for f in self.features:
            if f.value is None:
                note = f.detail.get("note", "not measured")
                lines.append(f"  {NOT_APPLICABLE:<5} {f.name:<20} {note}")
                continue
            limit = "no threshold" if f.threshold is None else f"threshold {f.threshold:g}"
            mark = "DRIFT" if f.drifted else "ok"
            measured = f"{MEASURE_LABEL[f.measure]} {f.value:.4f}"
            lines.append(f"  {mark:<5} {f.name:<20} {measured} ({limit})")
        verdict = {
            ExitStatus.SCHEMA_SKEW: "schema skew: stop, a human must look",
            ExitStatus.DRIFT: f"drift in {', '.join(self.drifted)}: retrain",
            ExitStatus.NONE: "no drift beyond the thresholds",
        }[self.status]
        lines.append(f"=> {verdict}")
        return "\n".join(lines)

    def markdown(self) -> str:
        return render_markdown(self)


# --- measures ---------------------------------------------------------------------------


def js_divergence(reference: Sequence[float], batch: Sequence[float]) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) of two count vectors over the same buckets.

    scipy returns the JS distance, the square root of the divergence; TFDV's thresholds
    are on the divergence, so it is squared here.
    """
    p, q = np.asarray(reference, dtype=np.float64), np.asarray(batch, dtype=np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        raise ValueError("cannot compare an empty histogram")
    distance = float(jensenshannon(p, q, base=2))
    return min(distance * distance, 1.0)


def linf_distance(reference: Mapping[str, int], batch: Mapping[str, int]) -> tuple[float, str]:
    """L-infinity distance of two category-count maps, and the category where it is largest."""
    ref_total, batch_total = sum(reference.values()), sum(batch.values())
    if ref_total <= 0 or batch_total <= 0:
        raise ValueError("cannot compare empty category counts")
    best, where = 0.0, ""
    for key in sorted(set(reference) | set(batch)):
        gap = abs(reference.get(key, 0) / ref_total - batch.get(key, 0) / batch_total)
        if gap > best:
            best, where = gap, key
    return best, where


def _buckets(entry: Mapping[str, Any]) -> list[int]:
    return [
        int(entry["below"]),
        *map(int, entry["bins"]),
        int(entry["above"]),
        int(entry["missing"]),
    ]


def numeric_drift(
    name: str, reference: Mapping[str, Any], column: pd.Series, threshold: float | None
) -> FeatureDrift:
    values = numeric_values(column)
    counts = bin_counts(values, reference["edges"])
    divergence = js_divergence(_buckets(reference), _buckets(counts))
    outside = (counts["below"] + counts["above"]) / len(values)
    batch_summary = numeric_summary(values)
    detail = {
        "mean": [reference["mean"], batch_summary["mean"]],
        "median": [reference["median"], batch_summary["median"]],
        "missing_share": [reference["missing_share"], batch_summary["missing_share"]],
        "outside_reference_range_share": round(outside, 6),
    }
    return FeatureDrift(name, "numeric", JS, round(divergence, 6), threshold, detail)


def categorical_drift(
    name: str, reference: Mapping[str, Any], column: pd.Series, threshold: float | None
) -> FeatureDrift:
    ref_counts: dict[str, int] = reference["counts"]
    counts = category_counts(column)
    distance, where = linf_distance(ref_counts, counts)
    ref_total, total = sum(ref_counts.values()), sum(counts.values())
    detail = {
        "most_changed": where,
        "share": [
            round(ref_counts.get(where, 0) / ref_total, 6),
            round(counts.get(where, 0) / total, 6),
        ],
        "new_categories": sorted(set(counts) - set(ref_counts)),
    }
    return FeatureDrift(name, "categorical", LINF, round(distance, 6), threshold, detail)


# --- the check --------------------------------------------------------------------------


def load_profile(path: Path, params: Params) -> dict[str, Any]:
    """The reference profile, checked against the params it must describe."""
    if not path.exists():
        raise DriftError(
            f"{path}: no reference profile; run the pipeline (`make run`, or `dvc repro profile`)"
        )
    try:
        profile = read_json(path)
    except ValueError as exc:
        raise DriftError(f"{path}: not valid JSON: {exc}") from exc
    if profile.get("version") != PROFILE_VERSION:
        raise DriftError(
            f"{path}: profile version {profile.get('version')!r}, expected {PROFILE_VERSION}"
        )
    missing = [name for name in params.features.all if name not in profile.get("features", {})]
    if missing:
        raise DriftError(
            f"{path} does not profile {missing}: it is older than params.yaml; "
            "run `dvc repro profile`"
        )
    return profile


def check_thresholds(params: Params) -> None:
    unknown = sorted(set(params.monitor.drift.thresholds) - set(params.features.all))
    if unknown:
        raise ConfigError(
            f"params.yaml: monitor.drift.thresholds names features that params.features does "
            f"not list: {unknown}"
        )


def compare(
    batch: Batch, profile: Mapping[str, Any], params: Params, reference: str
) -> DriftReport:
    """Measure every feature present in the batch; a missing column is recorded as such."""
    thresholds = params.monitor.drift.thresholds
    frame = batch.valid if batch.valid is not None else batch.frame
    rows = 0 if frame is None else len(frame)
    features: list[FeatureDrift] = []
    for name in params.features.all:
        entry = profile["features"][name]
        measure = JS if entry["kind"] == "numeric" else LINF
        threshold = thresholds.get(name)
        if frame is None or name not in frame.columns or rows == 0:
            note = {"note": "not measured: the column is not in the batch"}
            features.append(FeatureDrift(name, entry["kind"], measure, None, threshold, note))
        elif entry["kind"] == "numeric":
            features.append(numeric_drift(name, entry, frame[name], threshold))
        else:
            features.append(categorical_drift(name, entry, frame[name], threshold))
    return DriftReport(
        str(batch.path), rows, reference, int(profile["rows"]), batch.report, features
    )


def check_drift(
    batch_path: Path, params: Params, profile_path: Path = PATHS.reference_profile
) -> DriftReport:
    check_thresholds(params)
    profile = load_profile(profile_path, params)
    batch = check_batch(batch_path, params, require_label=False)
    return compare(batch, profile, params, str(profile_path))


# --- reports ----------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return NOT_APPLICABLE
    if isinstance(value, float):
        if math.isnan(value):
            return NOT_APPLICABLE
        return f"{value:.4g}"
    return str(value)


def _moved(f: FeatureDrift) -> str:
    d = f.detail
    if f.value is None:
        return d.get("note", "")
    if f.kind == "numeric":
        parts = [f"mean {_fmt(d['mean'][0])} → {_fmt(d['mean'][1])}"]
        if d["missing_share"][0] != d["missing_share"][1]:
            parts.append(f"missing {d['missing_share'][0]:.1%} → {d['missing_share'][1]:.1%}")
        if d["outside_reference_range_share"]:
            parts.append(f"{d['outside_reference_range_share']:.1%} outside the training range")
        return "; ".join(parts)
    text = f"`{d['most_changed']}` {d['share'][0]:.1%} → {d['share'][1]:.1%}"
    if d["new_categories"]:
        text += f"; new: {', '.join(f'`{c}`' for c in d['new_categories'])}"
    return text


def render_markdown(report: DriftReport) -> str:
    status = report.status
    verdict = {
        ExitStatus.SCHEMA_SKEW: "❌ **schema skew**: the batch breaks the data contract. "
        "Not retraining: a human must look.",
        ExitStatus.DRIFT: f"🔴 **drift** in {len(report.drifted)} of {len(report.features)} "
        f"features ({', '.join(f'`{n}`' for n in report.drifted)}): retraining is triggered.",
        ExitStatus.NONE: "✅ **no drift** beyond the configured thresholds.",
    }[status]
    lines = [
        f"## Drift check: `{report.batch}`",
        "",
        f"{report.rows:,} rows compared with the training split ({report.reference_rows:,} rows, "
        f"profile `{report.reference}`).",
        "",
        verdict,
        "",
        "### Schema (data contract)",
        "",
    ]
    if report.schema_skew:
        lines += ["| column | check | failing rows | examples |", "|---|---|---:|---|"]
        for failure in report.validation.failures:
            examples = ", ".join(f"`{e}`" for e in failure.examples)
            column = failure.column or "(table)"
            lines.append(f"| {column} | `{failure.check}` | {failure.count} | {examples} |")
    else:
        lines.append(f"✅ every rule of `{report.validation.contract}` holds.")
    lines += [
        "",
        "### Value drift per feature",
        "",
        "| feature | kind | measure | value | threshold | verdict | what moved |",
        "|---|---|---|---:|---:|---|---|",
    ]
    for f in sorted(report.features, key=lambda f: (not f.drifted, -(f.value or 0.0))):
        if f.value is None:
            verdict_cell = "not measured"
        elif f.threshold is None:
            verdict_cell = "no threshold (recorded only)"
        else:
            verdict_cell = "🔴 drift" if f.drifted else "✅ ok"
        value = NOT_APPLICABLE if f.value is None else f"{f.value:.4f}"
        threshold = NOT_APPLICABLE if f.threshold is None else f"{f.threshold:g}"
        cells = [f"`{f.name}`", f.kind, MEASURE_LABEL[f.measure], value, threshold]
        lines.append("| " + " | ".join([*cells, verdict_cell, _moved(f)]) + " |")
    lines += [
        "",
        "<sub>As in TFDV: Jensen-Shannon divergence (base 2) over the training split's histogram "
        "bins plus below/above-range and missing buckets for numeric features; L∞ distance of "
        "category shares for categorical ones. A feature fires when its value exceeds its "
        "threshold in `params.yaml` (`monitor.drift.thresholds`); features without one are "
        "recorded only.</sub>",
    ]
    return "\n".join(lines) + "\n"


def write_reports(report: DriftReport, out: Path) -> tuple[Path, Path]:
    json_path, md_path = out / "drift.json", out / "drift.md"
    write_json(json_path, report.to_dict())
    write_text(md_path, report.markdown())
    return json_path, md_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tabpipe drift",
        description=(__doc__ or "").split("\n\n")[0] + " Schema skew and value drift of BATCH.",
        epilog=HELP,
    )
    parser.add_argument("batch", type=Path, help="the new batch (CSV or Parquet; label optional)")
    parser.add_argument(
        "--profile", type=Path, default=PATHS.reference_profile, help="reference profile"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="report folder (default build/monitoring)"
    )
    parser.add_argument("--params", type=Path, default=PARAMS_FILE)
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        report = check_drift(args.batch, params, args.profile)
        json_path, md_path = write_reports(report, args.out)
    except (ConfigError, ContractError, DriftError, InputError) as exc:
        print(f"[drift] ERROR (could not run): {exc}", file=sys.stderr)
        return int(ExitStatus.ERROR)
    print(report.summary())
    print(f"[drift] reports: {json_path}, {md_path}")
    return int(report.status)


if __name__ == "__main__":
    sys.exit(main())
