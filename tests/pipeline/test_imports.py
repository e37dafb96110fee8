"""Each stage loads only the libraries it uses: the ones that fit nothing start fast.

Checked in a fresh interpreter per module (sys.modules after the import), so a top-level
import of scikit-learn that creeps into a shared module fails here, not as a slow stage.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL_LIBRARIES = {"sklearn", "skl2onnx", "onnx", "onnxruntime", "lightgbm", "xgboost", "scipy"}
TABLE_LIBRARIES = {"numpy", "pandas", "pyarrow", "pandera"}

# module -> libraries it must not load
LIGHT = {
    "tabpipe.core.config": MODEL_LIBRARIES | TABLE_LIBRARIES,
    "tabpipe.core.stage": MODEL_LIBRARIES | TABLE_LIBRARIES,
    "tabpipe.core.metrics": MODEL_LIBRARIES | TABLE_LIBRARIES,  # its direction table
    "tabpipe.pipeline.gate": MODEL_LIBRARIES | TABLE_LIBRARIES,
    "tabpipe.pipeline.profile": MODEL_LIBRARIES | {"pandera"},
    "tabpipe.pipeline.validate": MODEL_LIBRARIES,
    "tabpipe.release.champion": MODEL_LIBRARIES | TABLE_LIBRARIES,
    "tabpipe.release.run_record": MODEL_LIBRARIES,
    "tabpipe.ci.report": MODEL_LIBRARIES,
    "tabpipe.cli": MODEL_LIBRARIES | TABLE_LIBRARIES,
}

PROBE = """
import json, sys
import {module}
from tabpipe.core.config import load_params
load_params()  # and the project package's families, as every stage loads them
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}})))
"""


def loaded_by(module: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(done.stdout))


@pytest.mark.parametrize("module", sorted(LIGHT))
def test_a_stage_that_fits_nothing_loads_no_model_library(module):
    assert loaded_by(module) & LIGHT[module] == set()


def test_the_probe_sees_heavy_imports():
    """The check above can fail: the train stage does load scikit-learn."""
    assert {"sklearn", "pandas"} <= loaded_by("tabpipe.pipeline.train")
