"""Plots a pull request can read: Mermaid charts and Markdown tables, plus SVG/HTML files.

GitHub renders a fenced ``mermaid`` block inside a comment, so the curves reach reviewers
without uploading an image to any host. Mermaid's ``xychart-beta`` draws each series over
one shared categorical x axis, so a curve is first resampled onto a fixed grid (about 20
points is enough to see a change). The SVG versions keep every point; they go into the
workflow artifact with one self-contained HTML page (no scripts, no CDN).

Everything here is pure: data frames in, strings out.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tabpipe.core.metrics import CONFUSION_COUNT

GRID_POINTS = 21
BASELINE_COLOUR = "#9e9e9e"
BRANCH_COLOUR = "#1f77b4"
EXTRA_COLOUR = "#ff7f0e"


@dataclass(frozen=True)
class Series:
    """One line of a chart: its legend name, colour and y values (one per x tick)."""

    name: str
    colour: str
    values: Sequence[float]


def unit_grid(points: int = GRID_POINTS) -> np.ndarray:
    return np.linspace(0.0, 1.0, points)


def roc_on_grid(roc: pd.DataFrame, grid: np.ndarray) -> list[float]:
    """True-positive rate at each false-positive rate of the grid (the ROC step function)."""
    fpr = roc["fpr"].to_numpy(dtype=float)
    tpr = roc["tpr"].to_numpy(dtype=float)
    return [round(float(tpr[fpr <= f + 1e-12].max(initial=0.0)), 4) for f in grid]


def precision_on_grid(pr: pd.DataFrame, grid: np.ndarray) -> list[float]:
    """Interpolated precision: the best precision reachable at a recall of at least r."""
    recall = pr["recall"].to_numpy(dtype=float)
    precision = pr["precision"].to_numpy(dtype=float)
    return [round(float(precision[recall >= r - 1e-12].max(initial=0.0)), 4) for r in grid]


def area_under(x: Sequence[float], y: Sequence[float]) -> float:
    """Trapezoidal area of a curve given by points sorted along x."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    order = np.argsort(xs, kind="stable")
    xs, ys = xs[order], ys[order]
    return float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2.0))


def decile_means(predictions: pd.DataFrame, bins: int = 10) -> tuple[list[float], list[float]]:
    """Regression: mean actual and mean predicted value in each decile of the actual value."""
    frame = predictions.sort_values("actual", kind="stable").reset_index(drop=True)
    groups = np.array_split(np.arange(len(frame)), bins)
    actual = [round(float(frame["actual"].iloc[g].mean()), 4) for g in groups if len(g)]
    predicted = [round(float(frame["predicted"].iloc[g].mean()), 4) for g in groups if len(g)]
    return actual, predicted


def _quote(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def mermaid_xychart(
    title: str,
    x_label: str,
    x_axis: Sequence[str] | tuple[float, float],
    y_label: str,
    y_range: tuple[float, float] | None,
    series: Sequence[Series],
) -> str:
    """A fenced Mermaid ``xychart-beta`` line chart, colours set in its front matter.

    ``x_axis`` is either category labels, one per value, or a numeric (min, max) range over
    which Mermaid spreads each series' values evenly, with its own readable ticks. Mermaid
    draws no legend, so callers print one beside the chart (see :func:`legend`).
    """
    palette = ", ".join(s.colour for s in series)
    if isinstance(x_axis, tuple) and all(isinstance(v, int | float) for v in x_axis):
        x_spec = f"{x_axis[0]:g} --> {x_axis[1]:g}"
    else:
        x_spec = "[" + ", ".join(_quote(str(t)) for t in x_axis) + "]"
    lines = [
        "```mermaid",
        "---",
        "config:",
        "  xyChart:",
        "    width: 640",
        "    height: 360",
        "  themeVariables:",
        "    xyChart:",
        f'      plotColorPalette: "{palette}"',
        "---",
        "xychart-beta",
        f"    title {_quote(title)}",
        f"    x-axis {_quote(x_label)} {x_spec}",
    ]
    if y_range is None:
        lines.append(f"    y-axis {_quote(y_label)}")
    else:
        lines.append(f"    y-axis {_quote(y_label)} {y_range[0]:g} --> {y_range[1]:g}")
    for s in series:
        lines.append("    line [" + ", ".join(f"{v:g}" for v in s.values) + "]")
    lines.append("```")
    return "\n".join(lines)


def legend(series: Sequence[Series], notes: Sequence[str] = ()) -> str:
    """A one-line legend in words, since GitHub comments strip colour from text."""
    names = {BASELINE_COLOUR: "grey", BRANCH_COLOUR: "blue", EXTRA_COLOUR: "orange"}
    parts = []
    for i, s in enumerate(series):
        note = f" ({notes[i]})" if i < len(notes) and notes[i] else ""
        parts.append(f"{names.get(s.colour, s.colour)}: {s.name}{note}")
    return "_Lines: " + " · ".join(parts) + "._"


def confusion_counts(rows: pd.DataFrame) -> pd.DataFrame:
    """Counts with actual labels as rows and predicted labels as columns.

    ``rows``: plots/confusion.csv, one line per (actual, predicted) pair with its ``rows``
    count, or one line per row as evaluate wrote it before (a baseline may be that old).
    """
    actual, predicted = rows["actual"].astype(str), rows["predicted"].astype(str)
    labels = sorted(set(actual) | set(predicted))
    count = rows[CONFUSION_COUNT] if CONFUSION_COUNT in rows else pd.Series(1, rows.index)
    table = pd.crosstab(actual, predicted, values=count, aggfunc="sum")
    return table.reindex(index=labels, columns=labels).fillna(0).astype(int)


def confusion_markdown(branch: pd.DataFrame, baseline: pd.DataFrame | None) -> str:
    """The branch's confusion matrix; each cell also shows its change against the baseline."""
    labels = list(branch.index)
    header = "| actual \\ predicted | " + " | ".join(f"`{c}`" for c in labels) + " |"
    lines = [header, "|---|" + "---:|" * len(labels)]
    for actual in labels:
        cells = []
        for predicted in labels:
            count = int(branch.loc[actual, predicted])
            cell = str(count)
            if baseline is not None:
                before = (
                    int(baseline.loc[actual, predicted])
                    if actual in baseline.index and predicted in baseline.columns
                    else 0
                )
                if count != before:
                    cell += f" ({count - before:+d})"
            if actual == predicted:
                cell = f"**{cell}**"
            cells.append(cell)
        lines.append(f"| `{actual}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- SVG and HTML: full-resolution plots for the workflow artifact -------------------------

_W, _H, _PAD = 520, 400, 56


def svg_line_chart(
    title: str,
    x_label: str,
    y_label: str,
    curves: Sequence[tuple[str, str, Sequence[float], Sequence[float]]],
    *,
    x_range: tuple[float, float] = (0.0, 1.0),
    y_range: tuple[float, float] = (0.0, 1.0),
    diagonal: bool = False,
) -> str:
    """A standalone SVG line chart; ``curves`` are (name, colour, xs, ys) with every point kept."""
    (x0, x1), (y0, y1) = x_range, y_range
    span_x = (x1 - x0) or 1.0
    span_y = (y1 - y0) or 1.0

    def px(x: float) -> float:
        return _PAD + (x - x0) / span_x * (_W - 2 * _PAD)

    def py(y: float) -> float:
        return _H - _PAD - (y - y0) / span_y * (_H - 2 * _PAD)

    esc = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" font-family="sans-serif" font-size="12">',
        f'<rect width="{_W}" height="{_H}" fill="white"/>',
        f'<text x="{_W / 2}" y="20" text-anchor="middle" font-size="15">{esc(title)}</text>',
    ]
    for i in range(6):
        fx, fy = x0 + span_x * i / 5, y0 + span_y * i / 5
        parts.append(
            f'<line x1="{px(fx):.1f}" y1="{py(y0):.1f}" x2="{px(fx):.1f}" y2="{py(y1):.1f}" '
            'stroke="#eeeeee"/>'
        )
        parts.append(
            f'<line x1="{px(x0):.1f}" y1="{py(fy):.1f}" x2="{px(x1):.1f}" y2="{py(fy):.1f}" '
            'stroke="#eeeeee"/>'
        )
        parts.append(
            f'<text x="{px(fx):.1f}" y="{_H - _PAD + 16}" text-anchor="middle">{fx:.3g}</text>'
        )
        parts.append(f'<text x="{_PAD - 6}" y="{py(fy) + 4:.1f}" text-anchor="end">{fy:.3g}</text>')
    parts.append(
        f'<rect x="{_PAD}" y="{_PAD}" width="{_W - 2 * _PAD}" height="{_H - 2 * _PAD}" '
        'fill="none" stroke="#444444"/>'
    )
    if diagonal:
        parts.append(
            f'<line x1="{px(x0):.1f}" y1="{py(y0):.1f}" x2="{px(x1):.1f}" y2="{py(y1):.1f}" '
            'stroke="#cccccc" stroke-dasharray="4 4"/>'
        )
    for index, (name, colour, xs, ys) in enumerate(curves):
        points = " ".join(
            f"{px(float(x)):.1f},{py(float(y)):.1f}" for x, y in zip(xs, ys, strict=True)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{esc(colour)}" stroke-width="2"/>'
        )
        lx = _PAD + index * 170
        parts.append(
            f'<line x1="{lx}" y1="40" x2="{lx + 20}" y2="40" '
            f'stroke="{esc(colour)}" stroke-width="3"/>'
        )
        parts.append(f'<text x="{lx + 26}" y="44">{esc(name)}</text>')
    parts.append(f'<text x="{_W / 2}" y="{_H - 14}" text-anchor="middle">{esc(x_label)}</text>')
    parts.append(
        f'<text x="16" y="{_H / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {_H / 2})">{esc(y_label)}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def html_page(title: str, sections: Sequence[tuple[str, str]]) -> str:
    """One self-contained page: each section is (heading, inline SVG or HTML table)."""
    body = "\n".join(f"<h2>{html.escape(h)}</h2>\n{content}" for h, content in sections)
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )


def confusion_html(counts: pd.DataFrame) -> str:
    labels = list(counts.index)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in labels)
    rows = []
    for actual in labels:
        cells = "".join(f"<td>{int(counts.loc[actual, p])}</td>" for p in labels)
        rows.append(f"<tr><th>{html.escape(str(actual))}</th>{cells}</tr>")
    return f"<table><tr><th>actual \\ predicted</th>{head}</tr>{''.join(rows)}</table>"
