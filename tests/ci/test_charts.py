"""Plots a reviewer reads in the pull request: resampled curves, Mermaid, tables, SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pandas as pd

from tabpipe.ci import charts

ROC = pd.DataFrame({"fpr": [0.0, 0.0, 0.2, 0.5, 1.0], "tpr": [0.0, 0.4, 0.7, 0.9, 1.0]})
PR = pd.DataFrame({"recall": [1.0, 0.8, 0.5, 0.2, 0.0], "precision": [0.3, 0.5, 0.7, 0.9, 1.0]})


def test_a_roc_curve_on_the_grid_is_its_step_function():
    grid = charts.unit_grid(11)
    tpr = charts.roc_on_grid(ROC, grid)
    assert len(tpr) == 11
    assert tpr[0] == 0.4 and tpr[2] == 0.7 and tpr[5] == 0.9 and tpr[-1] == 1.0
    assert tpr == sorted(tpr)


def test_precision_on_the_grid_is_the_best_precision_at_that_recall_or_more():
    grid = charts.unit_grid(11)
    precision = charts.precision_on_grid(PR, grid)
    assert precision[0] == 1.0 and precision[5] == 0.7 and precision[10] == 0.3
    assert precision == sorted(precision, reverse=True)


def test_the_area_under_a_curve():
    assert abs(charts.area_under([0, 1], [0, 1]) - 0.5) < 1e-12
    assert abs(charts.area_under(ROC["fpr"], ROC["tpr"]) - 0.825) < 1e-9


def test_a_mermaid_chart_has_one_line_per_series_over_the_shared_ticks_and_its_colours():
    series = [
        charts.Series("main", charts.BASELINE_COLOUR, [0.1, 0.5, 1.0]),
        charts.Series("branch", charts.BRANCH_COLOUR, [0.2, 0.6, 1.0]),
    ]
    block = charts.mermaid_xychart('ROC "test"', "fpr", ["0", "0.5", "1"], "tpr", (0, 1), series)
    assert block.startswith("```mermaid\n---\nconfig:") and block.endswith("\n```")
    assert "xychart-beta" in block and "title \"ROC 'test'\"" in block
    assert 'x-axis "fpr" ["0", "0.5", "1"]' in block and 'y-axis "tpr" 0 --> 1' in block
    assert re.findall(r"^    line \[(.*)\]$", block, re.M) == ["0.1, 0.5, 1", "0.2, 0.6, 1"]
    assert f'plotColorPalette: "{charts.BASELINE_COLOUR}, {charts.BRANCH_COLOUR}"' in block
    numeric = charts.mermaid_xychart("ROC", "fpr", (0.0, 1.0), "tpr", (0, 1), series)
    assert 'x-axis "fpr" 0 --> 1' in numeric  # Mermaid spreads the values and picks ticks
    assert charts.legend(series, ["AUC 0.8", "AUC 0.9"]) == (
        "_Lines: grey: main (AUC 0.8) · blue: branch (AUC 0.9)._"
    )


def test_the_confusion_matrix_table_shows_each_cells_change_against_the_baseline():
    now = charts.confusion_counts(
        pd.DataFrame({"actual": ["a", "a", "b", "b", "b"], "predicted": ["a", "b", "b", "b", "a"]})
    )
    before = charts.confusion_counts(pd.DataFrame({"actual": ["a", "b"], "predicted": ["a", "b"]}))
    table = charts.confusion_markdown(now, before)
    assert "| `a` | **1** | 1 (+1) |" in table
    assert "| `b` | 1 (+1) | **2 (+1)** |" in table
    assert "(+" not in charts.confusion_markdown(now, None)


def test_decile_means_follow_the_actual_values():
    frame = pd.DataFrame({"actual": range(100), "predicted": [v * 2 for v in range(100)]})
    actual, predicted = charts.decile_means(frame)
    assert len(actual) == 10 and actual[0] == 4.5 and predicted[-1] == 189.0


def test_the_svg_is_well_formed_and_the_html_page_embeds_it_without_scripts():
    svg = charts.svg_line_chart(
        "ROC <curve>", "fpr", "tpr", [("a & b", "#000", ROC["fpr"], ROC["tpr"])], diagonal=True
    )
    root = ET.fromstring(svg)
    assert (
        root.tag.endswith("svg") and len(root.findall("{http://www.w3.org/2000/svg}polyline")) == 1
    )
    page = charts.html_page("Plots", [("ROC", svg)])
    assert (
        svg in page
        and "<script" not in page
        and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    )


def test_a_confusion_file_of_counts_gives_the_table_its_rows_would():
    rows = pd.DataFrame(
        {"actual": ["a", "a", "b", "b", "b"], "predicted": ["a", "b", "b", "b", "a"]}
    )
    counts = pd.DataFrame({"actual": ["a", "a", "b", "b"], "predicted": ["a", "b", "a", "b"]})
    counts["rows"] = [1, 1, 1, 2]
    pd.testing.assert_frame_equal(charts.confusion_counts(counts), charts.confusion_counts(rows))
    lonely = pd.DataFrame({"actual": ["a"], "predicted": ["c"], "rows": [4]})  # no a->a row
    table = charts.confusion_counts(lonely)
    assert table.loc["a", "c"] == 4 and table.loc["a", "a"] == 0 and table.loc["c", "c"] == 0
