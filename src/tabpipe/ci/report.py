"""Build the training report: ``python -m tabpipe.ci.report --base REV``.

The report compares this workspace, after ``dvc repro``, with a baseline commit: a pull
request's base, the commit before a push, or HEAD itself for a scheduled or dispatched
retrain. It shows the metrics with absolute and relative deltas (``dvc metrics diff``),
the params that changed (``dvc params diff``), what else changed among the pipeline's
inputs, the data-validation result, the model checks (contract and ONNX parity), and the
plots as Mermaid charts and Markdown tables, which GitHub renders inside a comment.

Baselines are found the way CI clones need: a pull request is checked out as a merge
commit in a one-commit-deep clone, so neither ``main`` nor ``HEAD~1`` is the base there:
its baseline is the merge commit's first parent (read from the commit object). Other
baselines are named explicitly. The base commit is fetched (``git fetch --depth=1 origin
SHA``) if the clone lacks it. Metrics are committed to git, so git alone is enough to
compare. A base without metrics (the first pull request) shows this branch's values with
no deltas.

Outputs, in ``--out`` (default ``build/report``): ``report.md`` (the comment), the plots
as SVG files and one self-contained ``plots.html``. With ``--summary`` the Markdown is also
appended to that file (``$GITHUB_STEP_SUMMARY`` in a workflow).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from tabpipe.ci import charts
from tabpipe.ci.actions import Trigger, annotate, append_summary, git_auth_env
from tabpipe.ci.workflow import stages_to_rerun
from tabpipe.core import git
from tabpipe.core.contract import ValidationReport
from tabpipe.core.io import read_json_object, write_text
from tabpipe.core.metrics import HIGHER_IS_BETTER, LOWER_IS_BETTER
from tabpipe.core.paths import (
    CONTRACTS_DIR,
    DATA_POINTER,
    DVC_LOCK,
    DVC_YAML,
    PARAMS_FILE,
    PATHS,
    PROJECT_RECORD,
    REPORT_DIR,
    SOURCE_DIR,
)
from tabpipe.pipeline.export import Parity
from tabpipe.pipeline.gate import RecordedVerdict, verdict_markdown

T = TypeVar("T")
ZERO_SHA = "0" * 40
DEFAULT_OUT = REPORT_DIR
REPORT_FILE = "report.md"
PLOTS_PAGE = "plots.html"
# GitHub rejects comments over 65,536 characters; stay well below.
MAX_CHARS = 60_000
# The pipeline's inputs, as the training workflow's `paths:` filter lists them.
PIPELINE_INPUTS = tuple(map(str, (DATA_POINTER, DVC_YAML, PARAMS_FILE, SOURCE_DIR, CONTRACTS_DIR)))
FILE_ORDER = {str(PATHS.test_metrics): 0, str(PATHS.train_metrics): 1, str(PATHS.slice_metrics): 2}


# --- what the report is made of -----------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    """The commit to compare with; ``rev`` is None when there is none to be had."""

    rev: str | None
    label: str
    note: str = ""

    @property
    def short(self) -> str:
        return self.rev[:7] if self.rev else "none"


@dataclass(frozen=True)
class MetricRow:
    file: str
    name: str
    old: float | None
    new: float | None

    @property
    def delta(self) -> float | None:
        if self.old is None or self.new is None:
            return None
        return self.new - self.old

    @property
    def relative(self) -> float | None:
        if self.delta is None or self.old is None or self.old == 0:
            return None
        return self.delta / abs(self.old)

    @property
    def metric(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def verdict(self) -> str:
        delta = self.delta
        if delta is None:
            return "new" if self.old is None and self.new is not None else "gone"
        if abs(delta) < 1e-9:
            return "="
        if self.metric in HIGHER_IS_BETTER:
            return "better" if delta > 0 else "worse"
        if self.metric in LOWER_IS_BETTER:
            return "better" if delta < 0 else "worse"
        return "changed"


@dataclass(frozen=True)
class ParamRow:
    name: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Context:
    """Where and why the report is built (from the GitHub environment, or local defaults)."""

    trigger: str = "local"
    head_label: str = "workspace"
    run_url: str = ""
    pull_request: bool = False


@dataclass
class Evidence:
    """Everything the report shows, gathered from git, DVC and the pipeline's files."""

    context: Context
    baseline: Baseline
    metrics: list[MetricRow]
    params: list[ParamRow]
    changed_inputs: list[str]
    validation: ValidationReport | None
    parity: Parity | None
    gate: RecordedVerdict | None = None
    pipeline_outcome: str = "success"
    # After a failed `dvc repro`: the stages still not up to date (None: not known).
    stale_stages: list[str] | None = None
    lock_changed: bool = False
    data_change: tuple[dict[str, Any], dict[str, Any]] | None = None
    plots: dict[str, pd.DataFrame] = field(default_factory=dict)
    baseline_plots: dict[str, pd.DataFrame] = field(default_factory=dict)


# --- pure parsing and rendering -----------------------------------------------------------


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return float(value)
    return None


def metric_rows_from_diff(diff: Mapping[str, Any]) -> list[MetricRow]:
    """Rows from ``dvc metrics diff --json --all`` (file -> metric -> old/new)."""
    rows = [
        MetricRow(str(file), str(name), _number(entry.get("old")), _number(entry.get("new")))
        for file, metrics in diff.items()
        if isinstance(metrics, dict)
        for name, entry in metrics.items()
        if isinstance(entry, dict)
    ]
    return sorted(rows, key=lambda r: (FILE_ORDER.get(r.file, 9), r.file, r.name))


def metric_rows_from_show(show: Mapping[str, Any]) -> list[MetricRow]:
    """Rows with no baseline, from ``dvc metrics show --json`` (workspace values only)."""
    rows: list[MetricRow] = []
    for revision in show.values():
        for file, content in (revision.get("data") or {}).items():
            flat: dict[str, Any] = {}
            _flatten("", content.get("data") or {}, flat)
            rows += [MetricRow(str(file), name, None, _number(v)) for name, v in flat.items()]
    return sorted(rows, key=lambda r: (FILE_ORDER.get(r.file, 9), r.file, r.name))


def param_rows_from_diff(diff: Mapping[str, Any]) -> list[ParamRow]:
    """Changed params from ``dvc params diff --json`` (file -> param -> old/new)."""
    rows = [
        ParamRow(
            name if file == str(PARAMS_FILE) else f"{file}:{name}",
            entry.get("old"),
            entry.get("new"),
        )
        for file, params in diff.items()
        if isinstance(params, dict)
        for name, entry in params.items()
        if isinstance(entry, dict)
    ]
    return sorted(rows, key=lambda r: r.name)


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.3g}"
    return f"{value:.4f}"


def _fmt_delta(value: float | None) -> str:
    return "-" if value is None else ("0" if abs(value) < 1e-12 else f"{value:+.4f}")


def _fmt_relative(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.2f}%"


def _fmt_param(value: Any) -> str:
    if value is None:
        return "-"
    text = json.dumps(value) if not isinstance(value, str) else value
    return f"`{_cell(text)[:80]}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")


VERDICT_MARK = {"better": "🟢 better", "worse": "🔴 worse", "=": "=", "new": "new", "gone": "gone"}


def metrics_table(rows: Sequence[MetricRow], baseline_label: str, *, name_column: str) -> str:
    lines = [
        f"| {name_column} | {baseline_label} | this run | Δ | Δ % | |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {_cell(r.name)} | {_fmt(r.old)} | {_fmt(r.new)} | {_fmt_delta(r.delta)} | "
            f"{_fmt_relative(r.relative)} | {VERDICT_MARK.get(r.verdict, r.verdict)} |"
        )
    return "\n".join(lines)


def _check_mark(ok: bool | None) -> str:
    return "✅ pass" if ok else ("❌ fail" if ok is False else "⚠️ missing")


def gate_rows(e: Evidence) -> list[tuple[str, bool | None, str]]:
    """The checks that decide whether this model may ship, each with its evidence."""
    rows: list[tuple[str, bool | None, str]] = []
    v = e.validation
    if v is None:
        rows.append(("Data contract", None, f"`{PATHS.validation_report}` was not produced"))
    else:
        detail = f"`{v.source}`: {v.rows} rows x {v.columns} columns against `{v.contract}`"
        if v.failures:
            detail += f"; {len(v.failures)} problem(s)"
        rows.append(("Data contract", v.ok, detail))
    p = e.parity
    if p is None:
        rows.append(("ONNX parity", None, f"`{PATHS.parity_report}` was not produced"))
    else:
        rows.append(
            (
                "ONNX parity",
                p.ok,
                f"ONNX vs scikit-learn on {p.rows} test rows: largest difference "
                f"{p.max_abs_diff:.2g} (tolerance {p.tolerance:g}), {p.label_mismatches} label "
                "mismatch(es)",
            )
        )
    g = e.gate
    if g is not None:
        detail = g.reason or f"{len(g.failures)} of {len(g.checks)} threshold checks failed"
        rows.append(("Model gate", g.blessed, f"`{PATHS.gate_verdict}`: {_cell(detail)}"))
    rows.append(
        (
            "Pipeline run",
            e.pipeline_outcome == "success",
            "`dvc repro` completed"
            if e.pipeline_outcome == "success"
            else f"`dvc repro` {e.pipeline_outcome}",
        )
    )
    return rows


def verdict_line(rows: Sequence[tuple[str, bool | None, str]]) -> str:
    failed = [name for name, ok, _ in rows if ok is not True]
    names = ", ".join(name for name, _, _ in rows)
    if failed:
        return f"**Model checks: ❌ not passed** ({', '.join(failed)}). Checked: {names}."
    return f"**Model checks: ✅ passed** ({names})."


@dataclass(frozen=True)
class Curve:
    """How one plot file becomes a chart: its columns, labels and resampling rule."""

    title: str
    x: str
    y: str
    x_label: str
    y_label: str
    on_grid: Callable[[pd.DataFrame, np.ndarray], list[float]]
    area_name: str
    diagonal: bool


CURVES = {
    "roc": Curve(
        "ROC curve (test split)",
        "fpr",
        "tpr",
        "false positive rate",
        "true positive rate",
        charts.roc_on_grid,
        "AUC",
        True,
    ),
    "precision_recall": Curve(
        "Precision-recall curve (test split)",
        "recall",
        "precision",
        "recall",
        "precision",
        charts.precision_on_grid,
        "area",
        False,
    ),
}


def _curve_section(e: Evidence, name: str) -> list[str]:
    now, before, spec = e.plots.get(name), e.baseline_plots.get(name), CURVES[name]
    if now is None:
        return []
    grid = charts.unit_grid()
    series, notes = [], []
    for frame, label, colour in (
        (before, e.baseline.label, charts.BASELINE_COLOUR),
        (now, "this run", charts.BRANCH_COLOUR),
    ):
        if frame is None:
            continue
        series.append(charts.Series(label, colour, spec.on_grid(frame, grid)))
        notes.append(f"{spec.area_name} {charts.area_under(frame[spec.x], frame[spec.y]):.3f}")
    chart = charts.mermaid_xychart(
        spec.title, spec.x_label, (0.0, 1.0), spec.y_label, (0.0, 1.0), series
    )
    return [f"#### {spec.title}", "", chart, "", charts.legend(series, notes), ""]


def _confusion_section(e: Evidence) -> list[str]:
    now = e.plots.get("confusion")
    if now is None:
        return []
    before = e.baseline_plots.get("confusion")
    counts = charts.confusion_counts(now)
    base_counts = charts.confusion_counts(before) if before is not None else None
    note = " (in brackets: change against the baseline)" if base_counts is not None else ""
    return [
        "#### Confusion matrix (test split)",
        "",
        charts.confusion_markdown(counts, base_counts),
        "",
        f"_Rows: actual label; columns: predicted label{note}._",
        "",
    ]


def _regression_section(e: Evidence) -> list[str]:
    now = e.plots.get("predictions")
    if now is None:
        return []
    actual, predicted = charts.decile_means(now)
    series = [charts.Series("actual (this run)", charts.BASELINE_COLOUR, actual)]
    before = e.baseline_plots.get("predictions")
    if before is not None:
        series.append(
            charts.Series(
                f"predicted ({e.baseline.label})",
                charts.EXTRA_COLOUR,
                charts.decile_means(before)[1],
            )
        )
    series.append(charts.Series("predicted (this run)", charts.BRANCH_COLOUR, predicted))
    ticks = [f"d{i + 1}" for i in range(len(actual))]
    title = "Mean prediction per decile of the actual value"
    return [
        f"#### {title}",
        "",
        charts.mermaid_xychart(title, "decile of actual value", ticks, "value", None, series),
        "",
        charts.legend(series),
        "",
    ]


def _data_change_lines(e: Evidence) -> list[str]:
    if e.data_change is None:
        return []
    old, new = e.data_change

    def describe(p: dict[str, Any]) -> str:
        if not p:
            return "none"
        size = p.get("size")
        shown = f"{int(size) / 1024:.0f} KiB" if isinstance(size, int | float) else "? KiB"
        files = f", {p['nfiles']} file(s)" if p.get("nfiles") else ""
        return f"`{str(p.get('md5', '?'))[:8]}` ({shown}{files})"

    return [f"- Data version: {describe(old)} → {describe(new)}"]


# The stages whose outputs the metrics and plots are: when all ran, the numbers are this run's.
METRIC_STAGES = ("validate", "split", "train", "evaluate")


def pipeline_caution(e: Evidence) -> str:
    """What a failed ``dvc repro`` means for the numbers below, and where to look."""
    outcome = f"`dvc repro` {e.pipeline_outcome}"
    if e.stale_stages is None:
        return (
            f"{outcome}: the metrics and plots below may be missing or those last committed. "
            "The job log names the failing stage."
        )
    stale = ", ".join(f"`{name}`" for name in e.stale_stages) or "none"
    if set(e.stale_stages) & set(METRIC_STAGES):
        return (
            f"{outcome} (stages not completed: {stale}): the metrics and plots below may be "
            "missing or those last committed. The job log names the failing stage."
        )
    text = (
        f"{outcome} (stages not completed: {stale}). Every stage up to `evaluate` ran: the "
        "metrics and plots below are this run's."
    )
    if "gate" in e.stale_stages and e.gate is not None and not e.gate.blessed:
        text += " The model gate refused this model: the failed checks are under Model gate."
    return text


def render(e: Evidence, *, images: bool = False) -> str:
    """The whole report as GitHub-flavoured Markdown."""
    base = e.baseline
    ctx = e.context
    head = f"### Training report: {ctx.head_label} vs {base.label}"
    lines = [head, ""]
    trigger = f"Trigger: {ctx.trigger}"
    if ctx.run_url:
        trigger += f" · [workflow run]({ctx.run_url})"
    lines += [trigger, ""]
    if base.note:
        lines += [f"> [!NOTE]\n> {base.note}", ""]
    if e.pipeline_outcome != "success":
        lines += ["> [!CAUTION]", f"> {pipeline_caution(e)}", ""]

    gate = gate_rows(e)
    lines += [
        "#### Model checks",
        "",
        verdict_line(gate),
        "",
        "| check | result | evidence |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {_check_mark(ok)} | {detail} |" for name, ok, detail in gate]
    lines.append("")

    test_rows = [r for r in e.metrics if r.file == str(PATHS.test_metrics)]
    slice_rows = [r for r in e.metrics if r.file == str(PATHS.slice_metrics) and r.metric != "rows"]
    other_files = sorted(
        {r.file for r in e.metrics} - {str(PATHS.test_metrics), str(PATHS.slice_metrics)},
        key=lambda f: (FILE_ORDER.get(f, 9), f),
    )
    groups = [
        (f"Metrics in <code>{f}</code>", [r for r in e.metrics if r.file == f], "metric")
        for f in other_files
    ]
    groups.append(("Metrics per slice (test split)", slice_rows, "slice.value.metric"))
    label = f"baseline `{base.short}`" if base.rev else "baseline"
    lines += ["#### Metrics (test split)", ""]
    if test_rows:
        lines += [metrics_table(test_rows, label, name_column="metric"), ""]
    else:
        lines += [f"No metrics in `{PATHS.test_metrics}`.", ""]
    for title, rows, column in groups:
        if rows:
            changed = sum(1 for r in rows if r.verdict in {"better", "worse"})
            lines += [
                f"<details><summary>{title}: {len(rows)} values, {changed} changed</summary>",
                "",
                metrics_table(rows, label, name_column=column),
                "",
                "</details>",
                "",
            ]

    lines += ["#### What changed", ""]
    if e.params:
        lines += ["| param | baseline | this run |", "|---|---|---|"]
        lines += [
            f"| `{_cell(p.name)}` | {_fmt_param(p.old)} | {_fmt_param(p.new)} |" for p in e.params
        ]
        lines.append("")
    else:
        lines += (
            ["- Params: none changed.", ""]
            if base.rev
            else ["- Params: no baseline to compare.", ""]
        )
    if e.changed_inputs:
        lines.append("- Pipeline inputs changed: " + ", ".join(f"`{p}`" for p in e.changed_inputs))
    elif base.rev:
        lines.append("- Pipeline inputs changed: none besides params.")
    lines += _data_change_lines(e)
    if e.lock_changed:
        if ctx.pull_request:
            advice = (
                " **The merge must record the model**: run `make run` on the branch and commit "
                "`dvc.lock` with the results (or commit the files of this run's "
                "`pipeline-results` artifact); the training check fails until it matches."
            )
        elif ctx.trigger == "local":
            advice = " Commit it with the change that caused it."
        else:
            advice = (
                " Nothing is pushed to `main`: the results go to a pull request for a person "
                "to merge (the propose job)."
            )
        lines.append("- `dvc.lock`: updated by this run." + advice)
    else:
        lines.append("- `dvc.lock`: matches the commit; nothing new to record.")
    lines.append("")

    lines += _validation_section(e)
    lines += _gate_section(e)

    lines += ["#### Plots", ""]
    plot_lines = _curve_section(e, "roc") + _curve_section(e, "precision_recall")
    plot_lines += _confusion_section(e) + _regression_section(e)
    lines += plot_lines or ["No plot data was produced.", ""]
    if images:
        for name in ("roc", "precision_recall", "predictions"):
            if name in e.plots:
                lines += [f"![{name}]({name}.svg)", ""]
    artifact = (
        "Full-resolution plots (SVG and a self-contained HTML page) are in the "
        "`training-report` artifact"
    )
    lines.append(f"_{artifact} of [this run]({ctx.run_url})._" if ctx.run_url else f"_{artifact}._")
    lines += ["", _reproduce_hint(base)]
    return _fit(("\n".join(lines)).rstrip() + "\n")


def _validation_section(e: Evidence) -> list[str]:
    if e.validation is None:
        return ["#### Data validation", "", f"`{PATHS.validation_report}` was not produced.", ""]
    return [e.validation.markdown(heading="####").rstrip(), ""]


def _gate_section(e: Evidence) -> list[str]:
    """The gate's own rendering of its verdict (the same as reports/gate.md)."""
    if e.gate is None:
        return []
    return [verdict_markdown(e.gate, heading="####").rstrip(), ""]


def _reproduce_hint(base: Baseline) -> str:
    target = base.rev[:12] if base.rev else "main"
    return (
        "<sub>Reproduce locally: `make run`, then "
        f"`dvc metrics diff {target}` and `dvc params diff {target}`.</sub>"
    )


def _fit(markdown: str) -> str:
    """Drop the collapsible detail tables if the report would exceed a comment's size."""
    if len(markdown) <= MAX_CHARS:
        return markdown
    kept, skipping = [], False
    for line in markdown.splitlines():
        if line.startswith("<details>"):
            skipping = True
            kept.append("_(a detail table was left out: the comment would be too long)_")
        if not skipping:
            kept.append(line)
        if line.startswith("</details>"):
            skipping = False
    text = "\n".join(kept) + "\n"
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 40] + "\n\n_(report truncated)_\n"


def plot_files(e: Evidence) -> dict[str, str]:
    """Full-resolution plots: SVG files and one HTML page, keyed by file name."""
    files: dict[str, str] = {}
    sections: list[tuple[str, str]] = []
    for name, spec in CURVES.items():
        if name not in e.plots:
            continue
        curves = []
        for frame, label, colour in (
            (e.baseline_plots.get(name), f"baseline {e.baseline.short}", charts.BASELINE_COLOUR),
            (e.plots[name], "this run", charts.BRANCH_COLOUR),
        ):
            if frame is not None:
                ordered = frame.sort_values(spec.x, kind="stable")
                curves.append((label, colour, ordered[spec.x].tolist(), ordered[spec.y].tolist()))
        title = spec.title.replace(" (test split)", "")
        svg = charts.svg_line_chart(
            title, spec.x_label, spec.y_label, curves, diagonal=spec.diagonal
        )
        files[f"{name}.svg"] = svg
        sections.append((title, svg))
    if "predictions" in e.plots:
        p = e.plots["predictions"]
        low = float(min(p["actual"].min(), p["predicted"].min()))
        high = float(max(p["actual"].max(), p["predicted"].max()))
        curves = [
            ("predicted", charts.BRANCH_COLOUR, p["actual"].tolist(), p["predicted"].tolist())
        ]
        svg = charts.svg_line_chart(
            "Predicted vs actual",
            "actual",
            "predicted",
            curves,
            x_range=(low, high),
            y_range=(low, high),
            diagonal=True,
        )
        files["predictions.svg"] = svg
        sections.append(("Predicted vs actual", svg))
    if "confusion" in e.plots:
        sections.append(
            (
                "Confusion matrix (this run)",
                charts.confusion_html(charts.confusion_counts(e.plots["confusion"])),
            )
        )
        if "confusion" in e.baseline_plots:
            sections.append(
                (
                    f"Confusion matrix (baseline {e.baseline.short})",
                    charts.confusion_html(charts.confusion_counts(e.baseline_plots["confusion"])),
                )
            )
    against = e.baseline.label.replace("`", "")
    files[PLOTS_PAGE] = charts.html_page(f"Training plots: this run vs {against}", sections)
    return files


# --- gathering evidence (git, DVC, files) ------------------------------------------------


def _git(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return git.run(*args, env=env)


def _commit_of(rev: str) -> str | None:
    done = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def find_baseline(
    requested: str | None, label: str, env: Mapping[str, str] = os.environ
) -> Baseline:
    """Resolve the baseline commit, fetching it (one commit deep) if the clone lacks it."""
    if not requested or requested == ZERO_SHA:
        return Baseline(
            None,
            label,
            "No baseline commit (a new branch, or none given): values are shown without deltas.",
        )
    sha = _commit_of(requested)
    if sha is None:
        fetched = _git(
            "fetch",
            "--no-tags",
            "--depth=1",
            "origin",
            requested,
            env=git_auth_env({**os.environ, **env}),
        )
        if fetched.returncode != 0:
            print(fetched.stderr.strip(), file=sys.stderr)
        sha = _commit_of(requested) or (
            _commit_of("FETCH_HEAD") if fetched.returncode == 0 else None
        )
    if sha is None:
        annotate("warning", "Baseline", f"could not fetch the baseline commit {requested}")
        return Baseline(
            None,
            label,
            f"The baseline commit `{requested[:12]}` could not be fetched: values are shown "
            "without deltas.",
        )
    if PROJECT_RECORD.exists() and git.show(sha, PROJECT_RECORD) is None:
        # The base is the template as cloned: its metrics and slices describe the demo data.
        return Baseline(
            None,
            label,
            f"No baseline yet: `{sha[:12]}` predates `tabpipe init` (it holds the template's "
            "demo data, not this project's), so values are shown without deltas. The "
            "project's first commit on main becomes the baseline.",
        )
    return Baseline(sha, label)


def _dvc_json(*args: str) -> dict[str, Any]:
    done = subprocess.run(["dvc", *args, "--json"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        annotate("warning", "DVC", f"dvc {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
        return {}
    try:
        loaded = json.loads(done.stdout or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _typed(path: Path, reader: Callable[[Mapping[str, Any]], T]) -> T | None:
    """An artifact read back through its producer's class; None if absent or not that shape
    (the report then says the file was not produced)."""
    data = read_json_object(path)
    if data is None:
        return None
    try:
        return reader(data)
    except (KeyError, TypeError, ValueError):
        return None


# The plot files the report knows how to draw, by name (tabpipe.pipeline.evaluate.PLOT_FILES; a test
# keeps the two in step). Read by listing, so the report does not import scikit-learn.
PLOT_NAMES = ("confusion", "roc", "precision_recall", "predictions")


def _plots_at(rev: str | None) -> dict[str, pd.DataFrame]:
    """The plot CSVs in the workspace (``rev`` None) or at a commit, by file stem."""
    folder = PATHS.plots_dir.as_posix()
    if rev is None:
        names = [p.name for p in PATHS.plots_dir.glob("*.csv")]
    else:
        listed = _git("ls-tree", "--name-only", f"{rev}:{folder}")
        names = listed.stdout.split() if listed.returncode == 0 else []
    frames: dict[str, pd.DataFrame] = {}
    for name in sorted(names):
        stem = name.removesuffix(".csv")
        if stem not in PLOT_NAMES or not name.endswith(".csv"):
            continue
        if rev is None:
            frames[stem] = pd.read_csv(PATHS.plots_dir / name)
            continue
        shown = _git("show", f"{rev}:{folder}/{name}")
        if shown.returncode == 0 and shown.stdout.strip():
            frames[stem] = pd.read_csv(io.StringIO(shown.stdout))
    return frames


def _pointer_at(rev: str | None, pointer: str) -> dict[str, Any]:
    import yaml

    text = (
        Path(pointer).read_text(encoding="utf-8")
        if rev is None
        else _git("show", f"{rev}:{pointer}").stdout
    )
    try:
        outs = (yaml.safe_load(text) or {}).get("outs") or [{}]
        return dict(outs[0])
    except (yaml.YAMLError, AttributeError, TypeError):
        return {}


def _changed_inputs(rev: str) -> list[str]:
    """Pipeline inputs that differ between the baseline and the workspace (params aside)."""
    done = _git("diff", "--name-only", rev, "--", *PIPELINE_INPUTS)
    names = (
        [n for n in done.stdout.split() if n and n != str(PARAMS_FILE)]
        if done.returncode == 0
        else []
    )
    return sorted(names)


def context_from_env(env: Mapping[str, str], trigger: Trigger) -> Context:
    server, repo, run = (
        env.get("GITHUB_SERVER_URL", ""),
        env.get("GITHUB_REPOSITORY", ""),
        env.get("GITHUB_RUN_ID", ""),
    )
    run_url = f"{server}/{repo}/actions/runs/{run}" if server and repo and run else ""
    sha = env.get("GITHUB_SHA", "")
    if trigger.is_pull_request:
        head = f"`{env.get('GITHUB_HEAD_REF') or 'this branch'}`"
    elif env.get("GITHUB_REF_NAME"):
        head = f"`{env['GITHUB_REF_NAME']}`"
    else:
        head = "the workspace"
    if sha:
        head += f" ({sha[:7]})"
    return Context(trigger.describe(), head, run_url, trigger.is_pull_request)


def merge_first_parent() -> str | None:
    """The first parent of HEAD when HEAD is a merge: the base a pull request is merged into.

    actions/checkout of a pull request is ``refs/pull/N/merge``, one commit deep: its first
    parent is the base branch as GitHub merged it, which the event's
    ``pull_request.base.sha`` is not once the base moved after the last push. A shallow
    clone grafts away the parents, but the commit object still names them.
    """
    done = _git("cat-file", "-p", "HEAD")
    if done.returncode != 0:
        return None
    parents = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("parent ")]
    return parents[0] if len(parents) >= 2 else None


def requested_base(trigger: Trigger, base: str | None, env: Mapping[str, str]) -> str | None:
    """A pull request's baseline is its merge commit's first parent (else the event's base)."""
    if trigger.is_pull_request:
        return merge_first_parent() or base or env.get("PR_BASE_SHA") or None
    return base


def baseline_label(env: Mapping[str, str], trigger: Trigger, requested: str | None) -> str:
    if trigger.is_pull_request:
        return f"`{env.get('GITHUB_BASE_REF') or 'main'}`"
    if trigger.event == "push":
        return "the previous commit"
    if trigger.event == "local":
        return f"`{requested[:12]}`" if requested else "the baseline"
    return "the committed results"


def gather(
    base: str | None, pipeline_outcome: str, env: Mapping[str, str] = os.environ
) -> Evidence:
    trigger = Trigger.from_env(env)
    base = requested_base(trigger, base, env)
    baseline = find_baseline(base, baseline_label(env, trigger, base), env)
    if baseline.rev:
        metrics = metric_rows_from_diff(_dvc_json("metrics", "diff", "--all", baseline.rev))
        params = param_rows_from_diff(_dvc_json("params", "diff", baseline.rev))
        changed = _changed_inputs(baseline.rev)
    else:
        metrics, params, changed = metric_rows_from_show(_dvc_json("metrics", "show")), [], []
    data_change = None
    pointer = str(DATA_POINTER)
    if baseline.rev and pointer in changed:
        data_change = (_pointer_at(baseline.rev, pointer), _pointer_at(None, pointer))
    lock = _git("status", "--porcelain", "--", str(DVC_LOCK))
    return Evidence(
        context=context_from_env(env, trigger),
        baseline=baseline,
        metrics=metrics,
        params=params,
        changed_inputs=changed,
        validation=_typed(PATHS.validation_report, ValidationReport.from_dict),
        parity=_typed(PATHS.parity_report, Parity.from_dict),
        gate=_typed(PATHS.gate_verdict, RecordedVerdict.from_dict),
        pipeline_outcome=pipeline_outcome or "success",
        # dvc status finding nothing stale after a failure means it could not tell: unknown.
        stale_stages=None if pipeline_outcome in ("", "success") else stages_to_rerun() or None,
        lock_changed=bool(lock.stdout.strip()),
        data_change=data_change,
        plots=_plots_at(None),
        baseline_plots=_plots_at(baseline.rev) if baseline.rev else {},
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tabpipe.ci.report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--base",
        default=os.environ.get("BASE_SHA") or None,
        help="baseline commit or ref (default: $BASE_SHA)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--summary", type=Path, default=None, help="also append the report to this file"
    )
    parser.add_argument(
        "--pipeline-outcome",
        default=os.environ.get("PIPELINE_OUTCOME") or "success",
        help="how `dvc repro` ended: success, failure, cancelled, skipped",
    )
    parser.add_argument(
        "--images",
        action="store_true",
        default=os.environ.get("CML_PUBLISH_IMAGES", "").lower() == "true",
        help="also reference the SVG plots as images, for CML to publish (opt-in; default from "
        "the CML_PUBLISH_IMAGES variable)",
    )
    args = parser.parse_args(argv)
    evidence = gather(args.base, args.pipeline_outcome)
    markdown = render(evidence, images=args.images)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, content in plot_files(evidence).items():
        write_text(args.out / name, content)
    write_text(args.out / REPORT_FILE, markdown)
    if args.summary is not None:
        append_summary(markdown, {"GITHUB_STEP_SUMMARY": str(args.summary)})
    print(f"wrote {args.out / REPORT_FILE} ({len(markdown)} characters)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
