"""The model card: what a released model is, what it was trained on, how well it does.

Rendered from the bundle's ``model.json`` (``tabpipe bundle`` writes both), so the card of
every release says the same as the metadata the service reports. The sections follow
"Model Cards for Model Reporting" (Mitchell et al., 2019), cut to what a pipeline knows:
details, intended use, data, metrics overall and per slice, the gate verdict, limitations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tabpipe.pipeline.gate import RecordedVerdict, verdict_markdown

GENERAL_LIMITATIONS = (
    "Evaluated on one held-out split of the same data it was trained on: the metrics say "
    "nothing about data that drifts away from it (the monitoring workflow watches for that).",
    "Inputs are validated against the data contract; values it allows but training never saw "
    "(categories, ranges) get predictions that no test measured.",
    "Missing numeric values are imputed with the training median; a missing category is "
    "its own category.",
)


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _metrics_table(metrics: Mapping[str, Any]) -> list[str]:
    lines = ["| metric | value |", "|---|---:|"]
    lines += [f"| {name} | {_number(value)} |" for name, value in metrics.items()]
    return lines


def _slices_table(slices: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[str]:
    names = sorted(
        {m for values in slices.values() for row in values.values() for m in row if m != "rows"}
    )
    lines = [
        "| slice | rows | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    for feature, values in slices.items():
        for value, row in values.items():
            cells = " | ".join(_number(row.get(n, "—")) for n in names)
            lines.append(f"| {feature}={value} | {row.get('rows', '—')} | {cells} |")
    return lines


def _bound(value: Any, unbounded: str) -> str:
    return unbounded if value is None else f"{value:g}"


def _inputs_table(inputs: list[Mapping[str, Any]]) -> list[str]:
    lines = ["| feature | kind | allowed values | null allowed |", "|---|---|---|---|"]
    for f in inputs:
        if f["kind"] == "numeric":
            low, high = f.get("minimum"), f.get("maximum")
            allowed = f"{_bound(low, '-inf')} to {_bound(high, 'inf')}"
        else:
            shown = [str(c) for c in f.get("categories", [])]
            allowed = ", ".join(shown[:12]) + (
                f" (+{len(shown) - 12} more)" if len(shown) > 12 else ""
            )
        lines.append(
            f"| {f['name']} | {f['kind']} | {allowed} | {'yes' if f.get('nullable') else 'no'} |"
        )
    return lines


def _version_line(info: Mapping[str, Any]) -> str:
    version, commit = info.get("version", "unreleased"), info.get("commit")
    if version == "unreleased":
        return f"- Version: not registered (built from commit `{commit}`)"
    replaces = f"; replaces `{info['previous']}` in prod" if info.get("previous") else ""
    return f"- Version: `{version}`, registered at commit `{commit}`{replaces}"


def render(info: Mapping[str, Any]) -> str:
    params = info.get("params") or {}
    train = params.get("train") or {}
    family = train.get("family", "?")
    data = params.get("data") or {}
    release = info.get("release") or {}
    version = info.get("version", "unreleased")
    hyper = ", ".join(f"{k}={v}" for k, v in (train.get(family) or {}).items())
    lines = [
        f"# Model card: {info.get('artifact', 'model')} {version}",
        "",
        "## Model details",
        "",
        f"- Task: **{info.get('task')}**, predicting `{info.get('target')}`"
        + (f" (positive class `{info['positive_class']}`)" if info.get("positive_class") else ""),
        f"- Model: scikit-learn `{family}` pipeline ({hyper}), exported to ONNX; inputs are "
        "the raw features, one tensor each",
        _version_line(info),
        f"- Built: {info.get('created_at')} by tabpipe {info.get('tabpipe_version')}; "
        f"ONNX md5 `{info.get('onnx_md5')}`",
        "",
        "## Intended use",
        "",
        str(release.get("intended_use") or "Not stated."),
        "",
        "## Data",
        "",
        f"- Data version (md5 of the DVC-tracked data, `data.dvc`): `{info.get('data_md5')}`",
        f"- Source `{data.get('raw')}`, validated against `{data.get('contract')}`",
        f"- Split: test share {(params.get('split') or {}).get('test_size')}, seed "
        f"{(params.get('split') or {}).get('seed')}",
        "",
        "### Inputs (from the data contract)",
        "",
        *_inputs_table(list(info.get("inputs") or [])),
        "",
        "## Metrics (test split)",
        "",
    ]
    metrics = info.get("metrics") or {}
    lines += _metrics_table(metrics) if metrics else ["No test metrics were recorded."]
    lines.append("")
    slices = info.get("slices") or {}
    if slices:
        lines += ["### Per slice", "", *_slices_table(slices), ""]
    gate = info.get("gate")
    lines += ["## Gate verdict", ""]
    lines += (
        [verdict_markdown(RecordedVerdict.from_dict(gate), heading="###").rstrip(), ""]
        if gate
        else ["No gate verdict was recorded: this model was not validated.", ""]
    )
    lines += ["## Known limitations", ""]
    lines += [f"- {item}" for item in [*release.get("limitations", []), *GENERAL_LIMITATIONS]]
    lines += [
        "",
        "## Hyperparameters and settings",
        "",
        "<details><summary>params.yaml as used</summary>",
        "",
        "```json",
        json.dumps(params, indent=2, sort_keys=True),
        "```",
        "",
        "</details>",
    ]
    return "\n".join(lines).rstrip() + "\n"
