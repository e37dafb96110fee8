"""Process start-up: what every stage process (and dvc itself) pays before its own work.

``dvc repro`` starts one Python process per stage. This times ``python -c 'import <stage
module>'`` for every stage (and ``tabpipe champion``, which ``make run`` runs first, and
``dvc --version``), and then each whole stage process on the bundled data in a clone where
``dvc repro`` ran once (a stage that imports its libraries lazily pays for them in its run,
not its import), wall and CPU time, in two environments side by side:

- *compiled*: the environment as `make setup` installs it (``uv sync --compile-bytecode``:
  a ``.pyc`` beside every module), with ``PYTHONDONTWRITEBYTECODE=1`` as on this machine
  and in CI;
- *no bytecode*: the same environment with ``PYTHONPYCACHEPREFIX`` pointing at an empty
  folder and ``PYTHONDONTWRITEBYTECODE=1``, so Python finds no ``.pyc`` and compiles every
  module it imports from source, each time: what every stage paid before the bytecode was
  compiled at setup.

Each stage process also runs once under ``python -X importtime`` (compiled), whose per-module
times, summed by library (``PACKAGE_GROUPS``), say which libraries its start-up is made of.

Nothing is written into the project's ``.venv``.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.timing import Spread, run_timed

STAGES = ("validate", "split", "train", "evaluate", "export", "profile", "gate")
# Stages that train nothing and load no model: their start-up goal is under 0.5 s of CPU.
# (train fits; evaluate, export and the service load the model's library to use it.)
NO_MODEL_WORK = ("validate", "split", "profile", "gate", "champion")
VARIANTS = ("compiled", "no bytecode")
# The libraries alone, as a stage process loads them: the floor under a stage's start-up.
# The code runs tabpipe.core.startup exactly as a stage process does (Hypothesis marked
# absent, the collector paused while the modules load, frozen before and after the work),
# then loads only the libraries, so the floor and the stages are measured alike.
AS_A_STAGE = (
    "import sys; sys.argv = ['-m']; sys.orig_argv = ['python', '-m', 'tabpipe.pipeline.floor']; "
    "import tabpipe.pipeline; {imports}; from tabpipe.core import startup; "
    "startup.stage_loaded(); startup.finish_stage_process()"
)
# Where a stage's imports go: ``python -X importtime`` gives each module's own import time;
# the modules are summed by the library they belong to (their top-level package).
PACKAGE_GROUPS = {
    "scikit-learn": ("sklearn",),
    "SciPy": ("scipy",),
    "pandas, pyarrow, NumPy": ("pandas", "pyarrow", "numpy"),
    "pandera": ("pandera", "typeguard"),
    "ONNX (skl2onnx, onnx, onnxruntime)": (
        "skl2onnx",
        "onnx",
        "onnxruntime",
        "onnxconverter_common",
        "onnxmltools",
    ),
    "joblib": ("joblib",),
    "pydantic, YAML": ("pydantic", "pydantic_core", "annotated_types", "typing_inspection", "yaml"),
    "tabpipe and the project": ("tabpipe",),  # plus the project's package (added per run)
}
OWN = "tabpipe and the project"
OTHER = "other (standard library, small packages)"
IMPORT_TIME = re.compile(r"^import time:\s+(\d+) \|\s+\d+ \| *(\S+)$", re.MULTILINE)
FLOORS = {
    "pyarrow's Parquet reader and NumPy, loaded as in a stage process": AS_A_STAGE.format(
        imports="import numpy, pyarrow.parquet, pyarrow.compute"
    ),
    "pandas, loaded as in a stage process": AS_A_STAGE.format(imports="import pandas"),
    "pandas and pandera, loaded as in a stage process": AS_A_STAGE.format(
        imports="import pandas, pandera.pandas"
    ),
}


@dataclass(frozen=True)
class StartupRow:
    command: str
    stage: str | None  # the pipeline stage (or champion) it starts, None for dvc
    wall: dict[str, Spread]  # variant -> wall seconds
    cpu: dict[str, Spread]  # variant -> CPU seconds (user + system)
    run_cpu: dict[str, Spread] = field(default_factory=dict)  # the whole stage process
    run_body: dict[str, Spread] = field(default_factory=dict)  # its "[stage] done in" time
    # Seconds of the stage process's imports by library (PACKAGE_GROUPS, OTHER), compiled
    # bytecode, from one run under ``python -X importtime`` (which slows imports a little).
    imports_by_library: dict[str, float] = field(default_factory=dict)


def commands() -> dict[str, tuple[str | None, list[str]]]:
    out: dict[str, tuple[str | None, list[str]]] = {}
    for stage in STAGES:
        module = f"tabpipe.pipeline.{stage}"
        out[f"python -c 'import {module}'"] = (stage, [sys.executable, "-c", f"import {module}"])
    module = "tabpipe.release.champion"
    out[f"python -c 'import {module}'"] = ("champion", [sys.executable, "-c", f"import {module}"])
    for label, code in FLOORS.items():
        out[label] = (None, [sys.executable, "-c", code])
    out["dvc --version"] = (None, [sys.executable, "-m", "dvc", "--version"])
    return out


def environments(empty_prefix: str) -> dict[str, dict[str, str]]:
    base = dict(os.environ, DVC_NO_ANALYTICS="1", PYTHONDONTWRITEBYTECODE="1")
    base.pop("PYTHONPYCACHEPREFIX", None)
    return {"compiled": base, "no bytecode": {**base, "PYTHONPYCACHEPREFIX": empty_prefix}}


def project_packages(clone: Path) -> tuple[str, ...]:
    from tabpipe.core.config import load_params

    return (load_params(clone / "params.yaml").project.package,)


def stage_command(stage: str) -> list[str]:
    if stage == "champion":
        return [sys.executable, "-m", "tabpipe.release.champion", "--offline"]
    return [sys.executable, "-m", f"tabpipe.pipeline.{stage}"]


def imports_by_library(report: str, project_packages: Sequence[str] = ()) -> dict[str, float]:
    """Sum ``python -X importtime``'s own (self) time of each module by library, in seconds.

    Every line is one module; a module's self time excludes the modules it imported, so the
    sums add up to the whole import time without counting anything twice.
    """
    owner = {top: group for group, tops in PACKAGE_GROUPS.items() for top in tops}
    owner.update(dict.fromkeys(project_packages, OWN))
    sums = dict.fromkeys([*PACKAGE_GROUPS, OTHER], 0.0)
    for micros, module in IMPORT_TIME.findall(report):
        sums[owner.get(module.split(".")[0], OTHER)] += int(micros) / 1e6
    return sums


def run(root: Path, *, repeats: int) -> list[StartupRow]:
    from benchmarks import repro  # repro's scenarios use this module's environments

    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="tabpipe-bench-nopyc-") as empty,
        tempfile.TemporaryDirectory(prefix="tabpipe-bench-stages-") as work,
    ):
        envs = environments(empty)
        clone = repro.prepare_clone(root, Path(work), "clone")
        repro.repro(clone)  # every stage's inputs in place
        for label, (stage, command) in commands().items():
            wall: dict[str, list[float]] = {v: [] for v in VARIANTS}
            cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
            run_cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
            body: dict[str, list[float]] = {v: [] for v in VARIANTS}
            run_timed(command, cwd=root, env=envs["compiled"])  # warm the file cache
            for _ in range(repeats):
                for variant in VARIANTS:  # interleaved, so load bursts hit both
                    done = run_timed(command, cwd=root, env=envs[variant])
                    wall[variant].append(done.seconds)
                    cpu[variant].append(done.cpu_seconds)
                    if stage is None:
                        continue
                    env = repro.clone_env(clone, envs[variant])
                    # The body in milliseconds: tenths would shift a 0.5 s start-up by 0.05 s.
                    ran, log = repro.run_logged(stage_command(stage), clone, env)
                    run_cpu[variant].append(ran.cpu_seconds)
                    body[variant].append(log.stage_seconds.get(stage, 0.0))
            shares: dict[str, float] = {}
            if stage is not None:
                env = {**repro.clone_env(clone, envs["compiled"]), "PYTHONPROFILEIMPORTTIME": "1"}
                traced = run_timed(stage_command(stage), cwd=clone, env=env)
                shares = imports_by_library(traced.stderr, project_packages(clone))
            rows.append(
                StartupRow(
                    label,
                    stage,
                    {v: Spread(tuple(wall[v])) for v in VARIANTS},
                    {v: Spread(tuple(cpu[v])) for v in VARIANTS},
                    {v: Spread(tuple(run_cpu[v])) for v in VARIANTS if run_cpu[v]},
                    {v: Spread(tuple(body[v])) for v in VARIANTS if body[v]},
                    shares,
                )
            )
    return rows
