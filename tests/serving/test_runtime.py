"""The served model at run time: loading checks, and predictions from plain rows."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from tabpipe.serving.runtime import METADATA_FILE, MODEL_FILE, ModelLoadError, ServingModel


@pytest.fixture(scope="module")
def model(bundle_dir) -> ServingModel:
    return ServingModel(bundle_dir)


def test_the_bundle_loads_with_its_version_and_signature(model, signature):
    assert model.version == "v1.0.0"
    assert [f.name for f in model.features] == [f["name"] for f in signature]
    assert [i.name for i in model.session.get_inputs()] == [f.onnx_input for f in model.features]


def test_rows_with_nulls_get_finite_predictions(model, test_rows):
    nulls = {f.name: None for f in model.features if f.nullable}
    predictions = model.predict_rows([test_rows[0], {**test_rows[0], **nulls}])
    for p in predictions:
        if model.is_classifier:
            assert p.label in model.classes
            assert all(math.isfinite(v) for v in p.probabilities.values())
        else:
            assert p.value is not None and math.isfinite(p.value)


def test_rows_and_columns_agree(model, test_rows):
    rows = test_rows[:10]
    columns = {f.name: [r[f.name] for r in rows] for f in model.features}
    assert model.predict_rows(rows) == model.predict_columns(columns)


def test_a_missing_file_is_named(bundle_dir, tmp_path):
    shutil.copy(bundle_dir / METADATA_FILE, tmp_path / METADATA_FILE)
    with pytest.raises(ModelLoadError, match=r"model\.onnx: not found"):
        ServingModel(tmp_path)


def test_a_graph_with_other_inputs_is_refused(bundle_dir, tmp_path):
    shutil.copy(bundle_dir / MODEL_FILE, tmp_path / MODEL_FILE)
    info = json.loads((bundle_dir / METADATA_FILE).read_text())
    (tmp_path / METADATA_FILE).write_text(json.dumps({**info, "inputs": info["inputs"][:-1]}))
    with pytest.raises(ModelLoadError, match=r"the graph has \d+ inputs, the metadata \d+"):
        ServingModel(tmp_path)


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("[]", "expected a JSON object"),
        ('"v1"', "expected a JSON object"),
        ('{"inputs": 3, "task": "binary"}', "malformed field"),
        ('{"inputs": [], "task": "binary"}', "declares no inputs"),
    ],
)
def test_metadata_that_is_not_a_bundle_description_is_refused_by_name(
    bundle_dir, tmp_path, metadata, message
):
    shutil.copy(bundle_dir / MODEL_FILE, tmp_path / MODEL_FILE)
    if metadata.startswith("{"):
        md5 = json.loads((bundle_dir / METADATA_FILE).read_text())["onnx_md5"]
        metadata = json.dumps({**json.loads(metadata), "onnx_md5": md5})
    (tmp_path / METADATA_FILE).write_text(metadata)
    with pytest.raises(ModelLoadError, match=message) as caught:
        ServingModel(tmp_path)
    assert str(tmp_path / METADATA_FILE) in str(caught.value)
