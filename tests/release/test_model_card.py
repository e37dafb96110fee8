"""The model card says what the model is, on which data, how well, and what the gate said."""

from __future__ import annotations

import json

from tabpipe.release.model_card import render
from tabpipe.serving.runtime import METADATA_FILE


def test_the_card_has_every_section_with_this_models_facts(bundle_dir):
    info = json.loads((bundle_dir / METADATA_FILE).read_text())
    card = render(info)
    for heading in (
        "## Model details",
        "## Intended use",
        "## Data",
        "## Metrics (test split)",
        "## Gate verdict",
        "## Known limitations",
    ):
        assert heading in card, heading
    assert f"Task: **{info['task']}**" in card
    assert f"`{info['data_md5']}`" in card
    assert info["release"]["intended_use"] in card
    for limitation in info["release"]["limitations"]:
        assert f"- {limitation}" in card
    for name, value in info["metrics"].items():
        assert f"| {name} | {value:.4f} |" in card
    if info.get("slices"):
        feature, values = next(iter(info["slices"].items()))
        value = next(iter(values))
        assert f"| {feature}={value} | {values[value]['rows']} |" in card
    else:  # nothing to slice by (evaluate.slice_by is empty): no empty table either
        assert "### Per slice" not in card
    mark = "✅ blessed" if info["gate"]["blessed"] else "❌ not blessed"
    assert f"### Model gate: {mark}" in card
    assert json.dumps(info["params"], indent=2, sort_keys=True) in card


def test_a_model_without_verdict_or_version_says_so():
    card = render({"version": "unreleased", "commit": "abc", "inputs": [], "params": {}})
    assert "not registered (built from commit `abc`)" in card
    assert "No gate verdict was recorded: this model was not validated." in card
    assert "No test metrics were recorded." in card
