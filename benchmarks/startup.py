"""Supplementary: the start-up cost that every stage process (and dvc itself) pays.

``dvc repro`` starts one Python process per stage, and each imports pandas, pandera and
(except ``validate``) scikit-learn before doing any work. This times those imports twice:
in the environment as it is, and with a warm bytecode cache in a temporary
``PYTHONPYCACHEPREFIX`` (``PYTHONDONTWRITEBYTECODE`` unset), which shows how much of the
start-up is compiling sources to bytecode, without writing into the project's ``.venv``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.timing import Spread, run_timed

# validate imports pandas and pandera; export adds scikit-learn, skl2onnx, onnx, onnxruntime.
MODULES = ("tabpipe.pipeline.validate", "tabpipe.pipeline.export")


@dataclass(frozen=True)
class StartupRow:
    command: str
    as_is: Spread
    bytecode_cached: Spread


def commands() -> dict[str, list[str]]:
    out = {f"python -c 'import {m}'": [sys.executable, "-c", f"import {m}"] for m in MODULES}
    out["dvc --version"] = [sys.executable, "-m", "dvc", "--version"]
    return out


def run(root: Path, *, repeats: int) -> list[StartupRow]:
    as_is_env = dict(os.environ, DVC_NO_ANALYTICS="1")
    rows = []
    with tempfile.TemporaryDirectory(prefix="tabpipe-bench-pycache-") as prefix:
        cached_env = {k: v for k, v in as_is_env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached_env["PYTHONPYCACHEPREFIX"] = prefix
        for label, command in commands().items():
            run_timed(command, cwd=root, env=cached_env)  # fills the bytecode cache
            as_is = [run_timed(command, cwd=root, env=as_is_env).seconds for _ in range(repeats)]
            cached = [run_timed(command, cwd=root, env=cached_env).seconds for _ in range(repeats)]
            rows.append(StartupRow(label, Spread(tuple(as_is)), Spread(tuple(cached))))
    return rows
