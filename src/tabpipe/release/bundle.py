"""``tabpipe bundle``: the model as it is served and released, in one folder.

``model.onnx`` (copied), ``model.json`` (version, provenance, metrics, gate verdict and the
serving signature) and ``model_card.md``. The signature joins what the model was trained
on (the ONNX metadata: each feature's input, kind and training categories) with what the
data contract allows (nullability, numeric ranges, allowed categories), so the service
validates requests like the pipeline validates data, without pandera at run time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import onnx
import pandera.pandas as pa

from tabpipe.core import git
from tabpipe.core.config import ConfigError, Params, load_params
from tabpipe.core.contract import ContractError, load_contract
from tabpipe.core.dvcfiles import file_md5
from tabpipe.core.io import InputError, read_json, write_json, write_text, write_with
from tabpipe.core.paths import BUNDLE_DIR, CHAMPION_FILE, PARAMS_FILE, PATHS
from tabpipe.pipeline.gate import RecordedVerdict
from tabpipe.release.model_card import render as render_card
from tabpipe.serving.runtime import METADATA_FILE, MODEL_FILE

CARD_FILE = "model_card.md"
BOOLEAN_DTYPES = {"bool", "boolean"}
UNRELEASED = "unreleased"


class BundleError(Exception):
    """The bundle cannot be built; the message names the missing or inconsistent input."""


def onnx_metadata(path: Path) -> dict[str, Any]:
    """The export stage's metadata_props, JSON values decoded."""
    if path.stat().st_size == 0:
        raise BundleError(f"{path}: the file is empty (0 bytes): re-run export (`make run`)")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise BundleError(f"{path}: not a readable ONNX model: {exc}") from exc
    if not proto.graph.node or not proto.graph.input:
        # protobuf parses many non-ONNX byte strings into an empty model without an error
        raise BundleError(f"{path}: not an ONNX model (it has no graph): re-run export")
    out: dict[str, Any] = {}
    for prop in proto.metadata_props:
        try:
            out[prop.key] = json.loads(prop.value)
        except ValueError:
            out[prop.key] = prop.value
    return out


def contract_range(column: pa.Column) -> tuple[float | None, float | None]:
    low: float | None = None
    high: float | None = None
    for check in column.checks:
        stats = check.statistics or {}
        if check.name == "in_range":
            low, high = stats.get("min_value"), stats.get("max_value")
        elif check.name in {"greater_than_or_equal_to", "greater_than"}:
            low = stats.get("min_value")
        elif check.name in {"less_than_or_equal_to", "less_than"}:
            high = stats.get("max_value")
    return (None if low is None else float(low)), (None if high is None else float(high))


def allowed_values(column: pa.Column, *, typed: bool = False) -> list[Any] | None:
    """The contract's allowed values, as strings, or with ``typed`` integer codes as ints."""
    for check in column.checks:
        if check.name == "isin":
            values = (check.statistics or {}).get("allowed_values", [])
            integer = typed and all(isinstance(v, int) and not isinstance(v, bool) for v in values)
            return [int(v) if integer else str(v) for v in values]
    return None


def serving_inputs(
    onnx_features: Sequence[Mapping[str, Any]], schema: pa.DataFrameSchema, target: str
) -> list[dict[str, Any]]:
    """One entry per model input, in input order: the contract's rules for that feature."""
    inputs = []
    for feature in onnx_features:
        name = str(feature["name"])
        if name == target:
            raise BundleError(f"the model takes the target {target!r} as an input")
        column = schema.columns.get(name)
        if column is None:
            raise BundleError(
                f"the model's input {name!r} is not a column of the data contract: "
                "the contract and the model disagree"
            )
        entry: dict[str, Any] = {
            "name": name,
            "onnx_input": str(feature.get("onnx_input") or name),
            "kind": str(feature["kind"]),
            "nullable": bool(column.nullable),
        }
        if entry["kind"] == "numeric":
            entry["minimum"], entry["maximum"] = contract_range(column)
        elif str(column.dtype) in BOOLEAN_DTYPES:  # a two-category feature taking JSON booleans
            entry["kind"] = "boolean"
        else:
            trained = [str(c) for c in feature.get("categories", []) if str(c) != ""]
            entry["categories"] = allowed_values(column, typed=True) or trained
        inputs.append(entry)
    return inputs


def _optional_json(path: Path) -> Any:
    return read_json(path) if path.exists() else None


def describe(params: Params, version: str, commit: str | None = None) -> dict[str, Any]:
    """Everything ``model.json`` says about ``models/model.onnx`` in this workspace."""
    if not PATHS.onnx_model.exists():
        raise BundleError(f"{PATHS.onnx_model} not found: run `make run` first")
    meta = onnx_metadata(PATHS.onnx_model)
    features = meta.get("features")
    if not isinstance(features, list) or not features:
        raise BundleError(f"{PATHS.onnx_model} has no 'features' metadata: re-run export")
    schema = load_contract(params.data.contract)
    verdict = RecordedVerdict.read(PATHS.gate_verdict)
    onnx_md5 = file_md5(PATHS.onnx_model)
    if verdict is not None and verdict.model_md5 not in (None, onnx_md5):
        raise BundleError(
            f"{PATHS.gate_verdict} judged another model (md5 {verdict.model_md5}, this one "
            f"is {onnx_md5}): run `make run` so the gate sees this model"
        )
    gate = read_json(PATHS.gate_verdict) if verdict is not None else None
    champion = _optional_json(CHAMPION_FILE)
    return {
        "artifact": "model",
        "version": version,
        "commit": commit or git.head() or "unknown",  # the model.onnx has no commit in it
        "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "onnx_md5": onnx_md5,
        "data_md5": meta.get("data_md5"),
        "tabpipe_version": meta.get("tabpipe_version"),
        "task": meta.get("task", params.data.task.value),
        "target": params.data.target,
        "positive_class": params.data.positive_class,
        "classes": meta.get("classes", []),
        "inputs": serving_inputs(features, schema, params.data.target),
        "params": meta.get("params", params.model_dump(mode="json")),
        "metrics": _optional_json(PATHS.test_metrics),
        "train_metrics": _optional_json(PATHS.train_metrics),
        "slices": _optional_json(PATHS.slice_metrics),
        "gate": gate,
        "previous": champion.get("version") if isinstance(champion, dict) else None,
        "serving": {
            "max_batch": params.release.max_batch,
            "max_body_bytes": params.release.max_body_bytes,
            "body_timeout_s": params.release.body_timeout_s,
            "max_concurrent": params.release.max_concurrent,
        },
        "release": {
            "intended_use": params.release.intended_use,
            "limitations": list(params.release.limitations),
        },
    }


def _copy(source: Path, destination: Path) -> None:
    shutil.copyfile(source, destination)


def build(params: Params, out: Path, version: str, commit: str | None = None) -> dict[str, Any]:
    """Write model.onnx, model.json and model_card.md into ``out``; return the metadata."""
    info = describe(params, version, commit)
    write_with(out / MODEL_FILE, lambda tmp: _copy(PATHS.onnx_model, tmp))
    write_json(out / METADATA_FILE, info)
    write_text(out / CARD_FILE, render_card(info))
    return info


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tabpipe bundle", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, default=BUNDLE_DIR, help="output folder")
    parser.add_argument("--version", default=UNRELEASED, help="registry version (vX.Y.Z)")
    parser.add_argument("--commit", help="the commit being released (default: HEAD)")
    parser.add_argument("--params", type=Path, default=PARAMS_FILE)
    args = parser.parse_args(argv)
    try:
        info = build(load_params(args.params), args.out, args.version, args.commit)
    except (BundleError, ConfigError, ContractError, InputError) as exc:
        print(f"tabpipe bundle: {exc}", file=sys.stderr)
        return 1
    verdict = RecordedVerdict.from_dict(info["gate"]) if info["gate"] else None
    blessed = "blessed" if verdict is not None and verdict.blessed else "NOT blessed"
    print(
        f"bundled {info['version']} ({blessed}) into {args.out}: "
        f"{MODEL_FILE}, {METADATA_FILE}, {CARD_FILE}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
