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

Nothing is written into the project's ``.venv``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.timing import Spread, run_timed

STAGES = ("validate", "split", "train", "evaluate", "export", "profile", "gate")
# Stages that fit or convert nothing: their start-up goal is under 0.5 s of CPU.
NO_MODEL_WORK = ("validate", "profile", "gate", "champion")
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
FLOORS = {
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


def stage_command(stage: str) -> list[str]:
    if stage == "champion":
        return [sys.executable, "-m", "tabpipe.release.champion", "--offline"]
    return [sys.executable, "-m", f"tabpipe.pipeline.{stage}"]


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
                    ran = run_timed(stage_command(stage), cwd=clone, env=env)
                    run_cpu[variant].append(ran.cpu_seconds)
                    log = repro.parse_log(ran.seconds, ran.stdout + ran.stderr)
                    body[variant].append(log.stage_seconds.get(stage, 0.0))
            rows.append(
                StartupRow(
                    label,
                    stage,
                    {v: Spread(tuple(wall[v])) for v in VARIANTS},
                    {v: Spread(tuple(cpu[v])) for v in VARIANTS},
                    {v: Spread(tuple(run_cpu[v])) for v in VARIANTS if run_cpu[v]},
                    {v: Spread(tuple(body[v])) for v in VARIANTS if body[v]},
                )
            )
    return rows
