"""``tabpipe infra-validate``: prove the bundle serves, in an environment with only the service.

1. builds a clean virtualenv from the lock with uv, holding only the ``serve`` dependency
   group (onnxruntime, numpy, FastAPI, pydantic, uvicorn) and the project's source on its
   path: no pandas, scikit-learn, pandera or DVC;
2. derives the expected input signature from ``contracts/`` and ``params.yaml`` (not from
   the bundle), and takes ``release.infra_sample_rows`` real rows of the test split;
3. runs ``tabpipe.serving.infra_check`` with that environment's interpreter: the model
   loads, its signature matches the contract, the service starts as a process and answers
   the rows over loopback HTTP within ``release.latency_budget_ms`` (p99).

The report goes to ``<bundle>/infra_validation.json`` (it ships with a release). Exit status
1 if any check failed: the deploy workflow releases nothing then.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from tabpipe.core.config import ConfigError, Params, load_params
from tabpipe.core.contract import ContractError, load_contract
from tabpipe.core.io import InputError
from tabpipe.core.paths import BUNDLE_DIR, PARAMS_FILE, PATHS, SERVE_ENV
from tabpipe.release.bundle import BOOLEAN_DTYPES, BundleError, allowed_values, contract_range

REPORT_FILE = "infra_validation.json"
ROOT = Path(__file__).resolve().parents[3]  # the checkout (src/tabpipe/release/../../..)


class InfraError(Exception):
    """The validation could not even run (no uv, no bundle, no test split)."""


def expected_signature(params: Params) -> list[dict[str, Any]]:
    """What the contract says the model's inputs must be: params' features, in input order.

    Derived from the contract and params alone, not from the bundle under test. A
    categorical column the contract does not enumerate has ``categories: None`` (any).
    """
    schema = load_contract(params.data.contract)
    kinds = [(n, "numeric") for n in params.features.numeric]
    kinds += [(n, "categorical") for n in params.features.categorical]
    expected = []
    for name, kind in kinds:
        column = schema.columns.get(name)
        if column is None:
            raise InfraError(f"feature {name!r} is not a column of {params.data.contract}")
        entry: dict[str, Any] = {"name": name, "kind": kind, "nullable": bool(column.nullable)}
        if kind == "numeric":
            entry["minimum"], entry["maximum"] = contract_range(column)
        elif str(column.dtype) in BOOLEAN_DTYPES:
            entry["kind"] = "boolean"
        else:
            entry["categories"] = allowed_values(column, typed=True)
        expected.append(entry)
    return expected


def sample_rows(params: Params, count: int) -> list[dict[str, Any]]:
    """Real rows of the test split, features only, as a client sends them (null = missing)."""
    if not PATHS.test_split.exists():
        raise InfraError(f"{PATHS.test_split} not found: run `make run` first")
    frame = pd.read_parquet(PATHS.test_split, columns=params.features.all).head(count)
    rows: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    return rows


def uv_binary() -> str:
    for candidate in (
        os.environ.get("UV"),
        str(ROOT / ".tools" / "bin" / "uv"),
        shutil.which("uv"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    raise InfraError("uv not found: run `make setup` (it installs uv into .tools/)")


def build_environment(target: Path, python: str = sys.executable) -> Path:
    """A virtualenv with the locked ``serve`` group only; returns its interpreter."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update(UV_PROJECT_ENVIRONMENT=str(target), UV_PYTHON_DOWNLOADS="never")
    done = subprocess.run(
        [
            uv_binary(),
            "sync",
            "--locked",
            "--only-group",
            "serve",
            "--no-install-project",
            "--compile-bytecode",  # .pyc at install: the service starts without compiling
            "--python",
            python,
            "--quiet",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise InfraError(f"building the serving environment failed: {done.stderr.strip()[-2000:]}")
    interpreter = target / "bin" / "python"
    if not interpreter.exists():
        raise InfraError(f"{interpreter} was not created")
    return interpreter


def run_check(
    interpreter: Path,
    bundle: Path,
    expected: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    budget_ms: float,
    work: Path,
) -> tuple[int, dict[str, Any]]:
    work.mkdir(parents=True, exist_ok=True)
    (work / "expected.json").write_text(json.dumps(expected), encoding="utf-8")
    (work / "sample.json").write_text(json.dumps(rows), encoding="utf-8")
    report = work / REPORT_FILE
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONHOME"}}
    env["PYTHONPATH"] = str(ROOT / "src")  # the service's code, none of the project's deps
    done = subprocess.run(
        [
            str(interpreter),
            "-m",
            "tabpipe.serving.infra_check",
            "--bundle",
            str(bundle.resolve()),
            "--expected",
            str(work / "expected.json"),
            "--sample",
            str(work / "sample.json"),
            "--budget-ms",
            str(budget_ms),
            "--report",
            str(report),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    print(done.stdout, end="", flush=True)
    if not report.exists():
        raise InfraError(
            f"the check did not run in the serving environment: {done.stderr.strip()[-3000:]}"
        )
    return done.returncode, json.loads(report.read_text(encoding="utf-8"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tabpipe infra-validate", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--bundle", type=Path, default=BUNDLE_DIR, help="the model bundle")
    parser.add_argument(
        "--env", type=Path, default=SERVE_ENV, help="where to build the environment"
    )
    parser.add_argument("--params", type=Path, default=PARAMS_FILE)
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        if not (args.bundle / "model.json").exists():
            raise InfraError(f"{args.bundle}/model.json not found: run `tabpipe bundle` first")
        expected = expected_signature(params)
        rows = sample_rows(params, params.release.infra_sample_rows)
        interpreter = build_environment(args.env)
        code, report = run_check(
            interpreter,
            args.bundle,
            expected,
            rows,
            params.release.latency_budget_ms,
            args.env / "check",
        )
    except (InfraError, BundleError, ConfigError, ContractError, InputError) as exc:
        print(f"tabpipe infra-validate: {exc}", file=sys.stderr)
        return 1
    (args.bundle / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    verdict = "PASSED" if report.get("ok") and code == 0 else "FAILED"
    print(f"[infra] {verdict}: report in {args.bundle / REPORT_FILE}", flush=True)
    return 0 if verdict == "PASSED" else 1


if __name__ == "__main__":
    sys.exit(main())
