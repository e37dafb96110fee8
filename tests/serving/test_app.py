"""The prediction service: answers, metadata, and a 422 naming the field for every bad request.

The hostile requests are written out one by one, built from the model's own signature so
they hold for any dataset; schemathesis then fuzzes every operation (schema-valid and
schema-violating bodies) in process and checks that no request ever gets a 500 and every
response matches the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
from pathlib import Path
from typing import Any

import onnxruntime as ort
import pandas as pd
import pytest
import schemathesis
import uvicorn
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tabpipe.core.config import load_params
from tabpipe.core.onnx_model import run as pipeline_run
from tabpipe.core.paths import PATHS
from tabpipe.serving import app as service
from tabpipe.serving.runtime import METADATA_FILE, MODEL_FILE, ModelLoadError, ServingModel

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def client(bundle_dir: Path) -> TestClient:
    return TestClient(service.create_app(bundle_dir))


def _first(signature, **match) -> dict[str, Any]:
    """The first feature with these properties; a dataset without one has no such case."""
    for feature in signature:
        if all(v(feature.get(k)) if callable(v) else feature.get(k) == v for k, v in match.items()):
            return feature
    pytest.skip(f"not applicable: no feature of this model matches {match}")


def _raw(row: dict[str, Any], feature: str, token: str) -> str:
    """The row as JSON text with one value replaced by a raw token (NaN, Infinity, 1e39)."""
    marker = "__TOKEN__"
    return json.dumps({**row, feature: marker}).replace(f'"{marker}"', token)


# --- answers ---------------------------------------------------------------------------------


def test_single_batch_and_columns_give_the_same_answer_as_the_pipeline(
    client, test_rows, pipeline_project
):
    rows = test_rows[:20]
    single = [client.post("/predict", json=row) for row in rows]
    assert {r.status_code for r in single} == {200}
    batch = client.post("/predict/batch", json={"rows": rows})
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    by_column = client.post("/predict/columns", json={"columns": columns})
    assert batch.status_code == by_column.status_code == 200
    assert batch.json()["predictions"] == by_column.json()["predictions"]
    assert {r.json()["model_version"] for r in single} == {"v1.0.0"}
    served = batch.json()["predictions"]
    for one, many in zip(single, served, strict=True):
        answer = {k: v for k, v in one.json().items() if k != "model_version"}
        assert answer.keys() == many.keys()
        if "value" in answer:
            # A tree ensemble's float32 sum differs in its last bits between one row and a
            # batch; judged against max(1, |value|), as export's parity check: on fair's
            # affairs (values near 0.06) 0.05838335 vs 0.05838329 failed a relative 1e-6.
            assert answer["value"] == pytest.approx(many["value"], rel=1e-6, abs=1e-6)
        else:
            assert answer["label"] == many["label"]
            assert answer["probabilities"] == pytest.approx(many["probabilities"], abs=1e-6)

    # the pipeline's own path (pandas -> model_frame -> feeds) on the same rows agrees
    params = load_params(pipeline_project / "params.yaml")
    sess = ort.InferenceSession(str(pipeline_project / PATHS.onnx_model))
    expected = pipeline_run(sess, pd.DataFrame(rows), params.features)
    if expected.proba is None:
        values = [p["value"] for p in served]
        assert values == pytest.approx([float(v) for v in expected.labels], rel=1e-6)
        return
    assert [p["label"] for p in served] == list(expected.labels)
    classes = list(served[0]["probabilities"])
    for p, row in zip(served, expected.proba, strict=True):
        assert [p["probabilities"][c] for c in classes] == pytest.approx(list(row), abs=1e-6)
        assert math.fsum(p["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_nulls_where_the_contract_allows_them_are_predicted(client, test_rows, signature):
    nullable = [f["name"] for f in signature if f["nullable"]]
    if not nullable:
        pytest.skip("the contract allows no nulls in any feature")
    row = {**test_rows[0], **dict.fromkeys(nullable)}
    response = client.post("/predict", json=row)
    assert response.status_code == 200, response.text


def test_health_ready_metadata_and_openapi(client, pipeline_project, signature):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["ready"] is True and ready["model_version"] == "v1.0.0"
    meta = client.get("/metadata").json()
    data_md5 = (pipeline_project / "data.dvc").read_text().split("md5: ")[1].split()[0]
    assert meta["model_version"] == "v1.0.0" and meta["data_md5"] == data_md5
    assert meta["metrics"] == json.loads((pipeline_project / PATHS.test_metrics).read_text())
    assert meta["inputs"] == signature and meta["max_batch"] == load_params().release.max_batch
    openapi = client.get("/openapi.json").json()
    assert {"/predict", "/predict/batch", "/predict/columns", "/metadata"} <= set(openapi["paths"])
    row_schema = openapi["components"]["schemas"]["Row"]
    assert set(row_schema["required"]) == {f["name"] for f in signature}
    assert row_schema["additionalProperties"] is False
    categorical = _first(signature, kind="categorical")
    prop = row_schema["properties"][categorical["name"]]
    enum = next(s for s in prop.get("anyOf", [prop]) if "enum" in s)["enum"]
    assert enum == categorical["categories"]


# --- how requests are run -------------------------------------------------------------------


def _running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_one_row_is_predicted_on_the_event_loop_and_a_batch_in_a_worker_thread(
    bundle_dir, test_rows, monkeypatch
):
    """A thread hop costs more than one row's prediction; a batch's must not block the loop."""
    model = ServingModel(bundle_dir)
    client = TestClient(service.create_app(bundle_dir, model=model))
    on_loop: list[bool] = []
    predict_feeds = model.predict_feeds  # where every endpoint's prediction runs

    def record(*args: Any, **kwargs: Any) -> Any:
        on_loop.append(_running_loop())
        return predict_feeds(*args, **kwargs)

    monkeypatch.setattr(model, "predict_feeds", record)
    rows = test_rows[:3]
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    assert client.post("/predict", json=rows[0]).status_code == 200
    assert client.post("/predict/batch", json={"rows": rows}).status_code == 200
    assert client.post("/predict/columns", json={"columns": columns}).status_code == 200
    assert on_loop == [True, False, False]  # /predict, /predict/batch, /predict/columns


def test_the_server_freezes_what_it_loaded_before_serving(client, monkeypatch):
    """Full collections then skip the libraries, model and schemas (a batch's tail latency)."""
    frozen: list[int] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: frozen.append(gc.get_freeze_count()))
    try:
        service.serve(client.app, "127.0.0.1", 0)
    finally:
        gc.unfreeze()
    assert len(frozen) == 1 and frozen[0] > 10_000, frozen


# --- hostile requests: 422 naming the field, never 500 ---------------------------------------


def assert_422(response, *names: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body = response.json()
    for name in names:
        assert name in body["message"], (name, body["message"])
    assert all({"loc", "field", "msg", "type"} <= set(item) for item in body["detail"])
    return body


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e39", "-1e39", "1e400"])
def test_non_finite_and_out_of_float32_numbers_are_422(client, test_rows, signature, token):
    unbounded = [f for f in signature if f["kind"] == "numeric"]
    feature = unbounded[0]["name"]
    body = _raw(test_rows[0], feature, token)
    assert_422(client.post("/predict", content=body, headers=JSON), feature)
    batch = '{"rows": [' + json.dumps(test_rows[1]) + ", " + body + "]}"
    assert_422(client.post("/predict/batch", content=batch, headers=JSON), f"rows[1].{feature}")


def test_booleans_and_strings_for_numbers_are_422(client, test_rows, signature):
    feature = _first(signature, kind="numeric")["name"]
    for value in (True, False, "12", [1]):
        assert_422(client.post("/predict", json={**test_rows[0], feature: value}), feature)


def test_missing_and_extra_fields_are_422(client, test_rows, signature):
    feature = signature[0]["name"]
    missing = {k: v for k, v in test_rows[0].items() if k != feature}
    body = assert_422(client.post("/predict", json=missing), feature)
    assert "Field required" in body["message"]
    extra = assert_422(client.post("/predict", json={**test_rows[0], "surprise": 1}), "surprise")
    assert "Extra inputs are not permitted" in extra["message"]


def test_unknown_categories_and_wrong_types_for_categories_are_422(client, test_rows, signature):
    feature = _first(signature, kind="categorical", categories=_text_categories)
    name = feature["name"]
    body = assert_422(
        client.post("/predict", json={**test_rows[0], name: "castle-in-the-air"}), name
    )
    assert repr(feature["categories"][0]) in body["message"]
    assert_422(client.post("/predict", json={**test_rows[0], name: 3}), name)


def _text_categories(categories: list | None) -> bool:
    return bool(categories) and all(isinstance(c, str) for c in categories)


def _codes(categories: list | None) -> bool:
    return bool(categories) and all(isinstance(c, int) for c in categories)


@pytest.fixture(scope="module")
def kinds(kinds_bundle: Path) -> tuple[TestClient, list[dict[str, Any]], dict[str, Any]]:
    """The service for a model with a boolean and an integer-code feature (any project)."""
    info = json.loads((kinds_bundle / METADATA_FILE).read_text())
    frame = pd.read_parquet(kinds_bundle.parents[1] / PATHS.test_split)
    names = [f["name"] for f in info["inputs"]]
    row = json.loads(frame[names].head(1).to_json(orient="records"))[0]
    return TestClient(service.create_app(kinds_bundle)), info["inputs"], row


def test_integer_codes_take_json_integers_of_the_contract_only(kinds):
    client, signature, row = kinds
    feature = _first(signature, kind="categorical", categories=_codes)
    name, codes = feature["name"], feature["categories"]
    assert client.post("/predict", json={**row, name: codes[-1]}).status_code == 200
    body = assert_422(client.post("/predict", json={**row, name: max(codes) + 1}), name)
    assert str(codes[0]) in body["message"]
    for wrong in (str(codes[0]), True, float(codes[0]) + 0.5):
        assert_422(client.post("/predict", json={**row, name: wrong}), name)


def test_booleans_take_json_true_and_false_only(kinds):
    client, signature, row = kinds
    booleans = [f for f in signature if f["kind"] == "boolean"]
    assert booleans, "the kinds table has boolean features"
    for feature in booleans:
        name = feature["name"]
        answers = [client.post("/predict", json={**row, name: v}) for v in (True, False)]
        assert [a.status_code for a in answers] == [200, 200]
        probabilities = [a.json()["probabilities"] for a in answers]
        assert all(abs(sum(p.values()) - 1) < 1e-5 for p in probabilities)
        for wrong in ("True", "false", 1, 0):
            assert_422(client.post("/predict", json={**row, name: wrong}), name)


def test_null_where_the_contract_forbids_it_is_422(client, test_rows, signature):
    feature = _first(signature, nullable=False)["name"]
    assert_422(client.post("/predict", json={**test_rows[0], feature: None}), feature)


def test_a_value_outside_the_contract_range_is_422(client, test_rows, signature):
    feature = _first(signature, kind="numeric", maximum=lambda m: m is not None)
    too_big = feature["maximum"] + 1
    body = assert_422(client.post("/predict", json={**test_rows[0], feature["name"]: too_big}))
    assert f"{feature['name']}: Input should be <= {feature['maximum']:g}" in body["message"]


def test_columns_of_different_lengths_are_422(client, test_rows):
    rows = test_rows[:3]
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    short = next(iter(columns))
    columns[short] = columns[short][:2]
    body = assert_422(client.post("/predict/columns", json={"columns": columns}), short)
    assert "same length" in body["message"]


def test_empty_batches_are_422(client, signature):
    assert_422(client.post("/predict/batch", json={"rows": []}), "rows", "at least 1 item")
    empty = {f["name"]: [] for f in signature}
    assert_422(client.post("/predict/columns", json={"columns": empty}), signature[0]["name"])


def test_an_oversized_batch_is_422_with_a_configurable_limit(bundle_dir, test_rows):
    small = TestClient(service.create_app(bundle_dir, max_batch=3))
    assert small.post("/predict/batch", json={"rows": test_rows[:3]}).status_code == 200
    assert_422(small.post("/predict/batch", json={"rows": test_rows[:4]}), "rows", "at most 3")
    columns = {name: [row[name] for row in test_rows[:4]] for name in test_rows[0]}
    assert_422(small.post("/predict/columns", json={"columns": columns}), "at most 3")
    assert small.get("/metadata").json()["max_batch"] == 3


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""]
)
def test_a_body_not_sent_as_json_is_422(client, test_rows, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/predict", content=json.dumps(test_rows[0]), headers=headers)
    body = assert_422(response, "content-type", "application/json")
    assert body["detail"][0]["field"] == "content-type"


@pytest.mark.parametrize("body", ['{"', "[1, 2]", '"row"', "null", ""])
def test_malformed_or_non_object_json_is_422(client, body):
    response = client.post("/predict", content=body, headers=JSON)
    assert response.status_code == 422, response.text
    assert response.json()["message"]


# --- startup refuses what it cannot serve --------------------------------------------------


def test_metadata_of_another_model_is_refused_at_start(bundle_dir, tmp_path):
    copy = tmp_path / "bundle"
    copy.mkdir()
    (copy / MODEL_FILE).write_bytes((bundle_dir / MODEL_FILE).read_bytes())
    info = json.loads((bundle_dir / METADATA_FILE).read_text())
    (copy / METADATA_FILE).write_text(json.dumps({**info, "onnx_md5": "0" * 32}))
    with pytest.raises(ModelLoadError, match="belongs to another model"):
        service.create_app(copy)
    swapped = [
        {**f, "kind": "categorical" if f["kind"] == "numeric" else "numeric"}
        for f in info["inputs"]
    ]
    (copy / METADATA_FILE).write_text(json.dumps({**info, "inputs": swapped}))
    with pytest.raises(
        ModelLoadError, match=r"has type tensor\(float\), expected tensor\(string\)"
    ):
        service.create_app(copy)


def test_the_command_fails_cleanly_without_a_bundle(tmp_path, capsys):
    assert service.main(["--model-dir", str(tmp_path)]) == 1
    assert "model.json: not found" in capsys.readouterr().err


# --- schemathesis: every operation, valid and invalid bodies -------------------------------
# schemathesis' pytest plugin (parametrize/from_fixture) does not run under pytest 9, so the
# same generators are used through Hypothesis directly, on a schema loaded from the app.

FUZZ_EXAMPLES = 40
OPERATIONS = [("POST", "/predict"), ("POST", "/predict/batch"), ("POST", "/predict/columns")]


@pytest.fixture(scope="module")
def api_schema(bundle_dir: Path):
    return schemathesis.openapi.from_asgi(
        "/openapi.json", service.create_app(bundle_dir, max_batch=5)
    )


@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_generated_requests_never_get_a_server_error_and_match_the_schema(
    api_schema, method, path, mode
):
    strategy = api_schema[path][method].as_strategy(
        generation_mode=schemathesis.GenerationMode(mode)
    )
    codes: set[int] = set()
    # JSON Schema cannot say "every column has the same length", so schema-valid column
    # bodies of unequal lengths are rightly refused; the other checks still apply there.
    excluded = [positive_data_acceptance] if path == "/predict/columns" else []

    @given(case=strategy)
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        response = case.call_and_validate(excluded_checks=excluded)
        assert response.status_code < 500
        codes.add(response.status_code)

    check()
    assert codes, "no request was generated"
    assert codes <= {200, 422}
    if mode == "negative":
        assert 422 in codes


def test_the_read_only_operations_match_the_schema(api_schema):
    for path in ("/health", "/ready", "/metadata"):
        case = api_schema[path]["GET"].Case()
        assert case.call_and_validate().status_code == 200
