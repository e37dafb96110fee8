"""A model bundle built once per test session from the project's own data, params and contract.

The pipeline runs in process in a scratch copy (linear model, for speed), then the gate and
``tabpipe bundle``: what the service serves in production, for whatever dataset the project
holds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tabpipe.core.config import load_params
from tabpipe.core.paths import CHAMPION_FILE, PATHS
from tabpipe.pipeline import evaluate, export, gate, split, train, validate
from tabpipe.release import bundle
from tabpipe.serving.runtime import METADATA_FILE
from tests.support.factories import kinds_table, quick_family
from tests.support.scratch import inside

ROOT = Path(__file__).resolve().parents[2]


def run_and_bundle(project: Path) -> None:
    """Every stage in process in ``project``, then the gate and ``tabpipe bundle``."""
    with inside(project):
        (project / CHAMPION_FILE).parent.mkdir(parents=True, exist_ok=True)
        (project / CHAMPION_FILE).write_text(json.dumps({"artifact": "model", "version": None}))
        for stage in (validate, split, train, evaluate, export, gate):
            if stage is gate:
                stage.main([])  # a rejection is recorded in the bundle; it is not an error here
            else:
                assert stage.main([]) == 0, f"stage {stage.__name__} failed"
        bundle.build(load_params(), project / "build" / "bundle", "v1.0.0", commit="0" * 40)


@pytest.fixture(scope="session")
def pipeline_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch project run through every stage, the gate and the bundle (build/bundle)."""
    project = tmp_path_factory.mktemp("served")
    params = load_params(ROOT / "params.yaml")
    for relative in (Path("params.yaml"), Path("data.dvc"), params.data.contract, params.data.raw):
        (project / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, project / relative)
    settings = yaml.safe_load((project / "params.yaml").read_text())
    settings["train"]["family"] = quick_family()
    (project / "params.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    run_and_bundle(project)
    return project


@pytest.fixture(scope="session")
def kinds_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle for a table with every column kind init tells apart (booleans, integer
    codes, an ordered category...), onboarded as init would, whatever the project's data."""
    from tabpipe.onboarding.plan import contract_spec, plan

    project = tmp_path_factory.mktemp("kinds")
    frame = kinds_table()
    chosen = plan(frame, "y")
    (project / "data").mkdir()
    frame.to_parquet(project / "data" / "table.parquet", index=False)
    (project / "contracts").mkdir()
    spec = contract_spec(frame, chosen, "kinds")
    (project / "contracts" / "data.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    shutil.copy(ROOT / "data.dvc", project / "data.dvc")
    settings = yaml.safe_load((ROOT / "params.yaml").read_text())
    settings["data"] = {
        "raw": "data/table.parquet",
        "contract": "contracts/data.yaml",
        "target": "y",
        "task": chosen.task.value,
        "positive_class": chosen.positive_class,
    }
    settings["features"] = {"numeric": chosen.numeric, "categorical": chosen.categorical}
    settings["split"] = {**settings["split"], "group_by": chosen.group_by}  # the project's own
    settings["train"]["family"] = quick_family()
    settings["evaluate"] = {"slice_by": [], "min_slice_size": 5}
    settings["gate"] = {"thresholds": {"accuracy": {"lower_bound": 0.0}}}
    settings["monitor"]["drift"]["thresholds"] = {}
    (project / "params.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    run_and_bundle(project)
    return project / "build" / "bundle"


@pytest.fixture(scope="session")
def bundle_dir(pipeline_project: Path) -> Path:
    return pipeline_project / "build" / "bundle"


@pytest.fixture(scope="session")
def signature(bundle_dir: Path) -> list[dict[str, Any]]:
    return json.loads((bundle_dir / METADATA_FILE).read_text())["inputs"]


@pytest.fixture(scope="session")
def test_rows(pipeline_project: Path, signature: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Real rows of the test split, as a client would send them (features only, JSON types)."""
    frame = pd.read_parquet(pipeline_project / PATHS.test_split)
    names = [f["name"] for f in signature]
    rows = json.loads(frame[names].head(50).to_json(orient="records"))
    return rows
