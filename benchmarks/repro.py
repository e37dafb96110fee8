"""Wall time of ``dvc repro``: cold, no-op, forced, and after a change of one train parameter.

Never touches the developer's working tree: every run happens in a ``git clone`` of HEAD in
a temporary directory, with its own empty DVC cache and site-cache directory (set in the
clone's ``.dvc/config.local``) so that "cold" really is cold, no run-cache included. The
data comes from the bundled remote by an untimed ``dvc pull data.dvc``.

The stages run as ``python -m tabpipe.<stage>``; ``PYTHONPATH=<clone>/src`` makes them import
the clone's code rather than the editable install, which points at the developer's tree.
Every scenario runs twice, side by side: with the environment's compiled bytecode (as `make
setup` installs it) and with none (:mod:`benchmarks.startup`'s empty ``PYTHONPYCACHEPREFIX``:
dvc and every stage compile what they import from source, as before setup compiled it).
Last, a cold and a no-op run on a larger table (``LARGE_ROWS`` synthetic rows drawn from the
bundled data, :mod:`benchmarks.synthetic`), where the stages have work to do.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks.startup import STAGES, VARIANTS, environments
from benchmarks.timing import Spread, Timed, run_timed
from tabpipe.core.config import load_params
from tabpipe.core.io import read_table
from tabpipe.core.paths import TIMINGS_FILE

# The setting of the configured family that a train-param change bumps (a model size).
SIZE_SETTINGS = ("max_iter", "n_estimators")
FORCED = "forced (`--force`)"
# A cold run on a table large enough for the stages' work to count, beside the bundled one:
# synthetic rows drawn from the bundled data (benchmarks.synthetic), every stage run.
LARGE_ROWS = 1_000_000
LARGE_TABLE = Path("data/synthetic.parquet")
STAGE_DONE = re.compile(r"^\[(\w+)\] done in ([0-9.]+)s$", re.MULTILINE)
STAGE_RUNNING = re.compile(r"^Running stage '(\w+)':$", re.MULTILINE)


def large(name: str, rows: int = LARGE_ROWS) -> str:
    """A scenario's name on the larger table: "cold, 1,000,000 rows"."""
    return f"{name}, {rows:,} rows"


@dataclass(frozen=True)
class RunLog:
    """What one ``dvc repro`` did: the stages it ran and each stage's own reported time."""

    seconds: float
    ran: tuple[str, ...]
    stage_seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: float = float("nan")
    # Each stage process, from its start to the end of its work (imports included, exit
    # not), from the run's build/timings.jsonl; empty where the file has no line for it.
    process_seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    runs: list[RunLog]
    variant: str = "compiled"  # bytecode: compiled (as installed) | no bytecode

    @property
    def seconds(self) -> Spread:
        return Spread(tuple(r.seconds for r in self.runs))


@dataclass(frozen=True)
class ReproResult:
    commit: str
    data_rows: int
    changed_param: str
    scenarios: list[Scenario]


def parse_log(
    seconds: float, output: str, cpu_seconds: float = float("nan"), timings: str = ""
) -> RunLog:
    """What a run did, from its output; ``timings``: the lines the run's stages appended
    to build/timings.jsonl, whose millisecond times replace the logs' tenths of a second."""
    stage_seconds = {name: float(value) for name, value in STAGE_DONE.findall(output)}
    process_seconds = {}
    for line in timings.splitlines():
        entry = json.loads(line)
        stage_seconds[entry["stage"]] = float(entry["work_seconds"])
        process_seconds[entry["stage"]] = float(entry["seconds"])
    ran = tuple(STAGE_RUNNING.findall(output))
    return RunLog(seconds, ran, stage_seconds, cpu_seconds, process_seconds)


def set_param(params_file: Path, dotted: str, value: Any) -> Any:
    """Set one nested value in a params file (comments are lost); return the old value."""
    params = yaml.safe_load(params_file.read_text(encoding="utf-8"))
    *parents, leaf = dotted.split(".")
    node = params
    for key in parents:
        node = node[key]
    old = node[leaf]
    node[leaf] = value
    params_file.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return old


def changed_param(params_file: Path) -> str:
    """The train parameter the param-change scenario bumps: the family's model size."""
    train = yaml.safe_load(params_file.read_text(encoding="utf-8"))["train"]
    family = train["family"]
    for name in SIZE_SETTINGS:
        if isinstance((train.get(family) or {}).get(name), int):
            return f"train.{family}.{name}"
    raise ValueError(f"train.{family} has none of {SIZE_SETTINGS} set to an integer")


def get_param(params_file: Path, dotted: str) -> Any:
    node = yaml.safe_load(params_file.read_text(encoding="utf-8"))
    for key in dotted.split("."):
        node = node[key]
    return node


def clone_env(clone: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment ``make`` gives, with the clone's sources ahead of the editable install."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(clone / "src"), env.get("PYTHONPATH")]))
    env["DVC_NO_ANALYTICS"] = "1"
    return env


def dvc(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvc", *args]


def prepare_clone(root: Path, workdir: Path, name: str) -> Path:
    """A clone of HEAD with a fresh, empty DVC cache and the raw data pulled (untimed)."""
    clone, cache, site = workdir / name, workdir / f"{name}-cache", workdir / f"{name}-site"
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    run_timed(["git", "clone", "--quiet", str(root), str(clone)], cwd=workdir, env=env)
    run_timed(dvc("config", "--local", "cache.dir", str(cache)), cwd=clone, env=env)
    run_timed(dvc("config", "--local", "core.site_cache_dir", str(site)), cwd=clone, env=env)
    run_timed(dvc("pull", "--quiet", "data.dvc"), cwd=clone, env=env)
    return clone


def run_logged(command: list[str], clone: Path, env: dict[str, str]) -> tuple[Timed, RunLog]:
    """Run ``command`` in ``clone``; how it ran, and what its stages did, their times from
    the lines they append to build/timings.jsonl (milliseconds; the logs give tenths)."""
    timings = clone / TIMINGS_FILE
    timings.unlink(missing_ok=True)  # only this run's lines
    done = run_timed(command, cwd=clone, env=env)
    lines = timings.read_text(encoding="utf-8") if timings.exists() else ""
    return done, parse_log(done.seconds, done.stdout + done.stderr, done.cpu_seconds, lines)


def repro(clone: Path, env: dict[str, str] | None = None, *options: str) -> RunLog:
    return run_logged(dvc("repro", *options), clone, clone_env(clone, env))[1]


def _expect(log: RunLog, scenario: str, *, ran: set[str], skipped: set[str]) -> None:
    """Refuse to report a timing of a run that did not do what its scenario says."""
    if not ran <= set(log.ran) or skipped & set(log.ran):
        raise RuntimeError(f"{scenario}: dvc repro ran {list(log.ran)}; expected {sorted(ran)}")


def _variant(
    root: Path, workdir: Path, variant: str, env: dict[str, str], repeats: int, progress: bool
) -> tuple[list[Scenario], str, Path]:
    cold: list[RunLog] = []
    clone = workdir
    tag = variant.replace(" ", "-")
    for i in range(repeats):
        if i:
            shutil.rmtree(clone)
        clone = prepare_clone(root, workdir, f"{tag}{i}")
        cold.append(repro(clone, env))
        _expect(cold[-1], "cold", ran={"validate", "split", "train"}, skipped=set())
        _say(progress, f"{variant}: cold dvc repro {i + 1}/{repeats}: {cold[-1].seconds:.1f}s")
    noop = []
    for i in range(repeats):
        noop.append(repro(clone, env))
        _expect(noop[-1], "no-op", ran=set(), skipped={"validate", "split", "train"})
        _say(progress, f"{variant}: no-op dvc repro {i + 1}/{repeats}: {noop[-1].seconds:.1f}s")
    # Every stage, whatever DVC knows: a cold clone reruns only the stages whose outputs
    # are missing (the committed metrics, plots and reports match the lock), so this is
    # the run where each stage process pays its start-up.
    forced = []
    for i in range(repeats):
        forced.append(repro(clone, env, "--force"))
        _expect(forced[-1], "forced", ran=set(STAGES), skipped=set())
        _say(progress, f"{variant}: dvc repro --force {i + 1}/{repeats}: {forced[-1].seconds:.1f}s")
    params_file = clone / "params.yaml"
    param = changed_param(params_file)
    base = int(get_param(params_file, param))
    changed = []
    for i in range(repeats):
        # A value never seen before each time: going back to an old one would be
        # restored from DVC's run-cache instead of retrained.
        set_param(params_file, param, base + i + 1)
        changed.append(repro(clone, env))
        _expect(changed[-1], "param change", ran={"train"}, skipped={"validate", "split"})
        _say(
            progress,
            f"{variant}: param-change dvc repro {i + 1}/{repeats}: {changed[-1].seconds:.1f}s",
        )
    scenarios = [
        Scenario("cold", cold, variant),
        Scenario("no-op", noop, variant),
        Scenario(FORCED, forced, variant),
        Scenario("train param changed", changed, variant),
    ]
    return scenarios, f"{param}: {base} -> {base + 1}, {base + 2}, ...", clone


def _large_table(
    root: Path, workdir: Path, repeats: int, progress: bool, rows: int
) -> list[Scenario]:
    """Cold and no-op ``dvc repro`` with ``data.raw`` on ``rows`` synthetic rows (compiled).

    The gate's verdict is not what is timed: ``gate.fail_on_reject: false``, so a model the
    gate refuses on the synthetic table still lets the run finish.
    """
    from benchmarks.synthetic import write_for_project

    cold, noop = [], []
    for i in range(repeats):
        clone = prepare_clone(root, workdir, f"large{i}")
        set_param(clone / "params.yaml", "data.raw", str(LARGE_TABLE))
        set_param(clone / "params.yaml", "gate.fail_on_reject", False)
        write_for_project(root, rows, clone / LARGE_TABLE)
        cold.append(repro(clone))
        _expect(cold[-1], "large cold", ran=set(STAGES), skipped=set())
        noop.append(repro(clone))
        _expect(noop[-1], "large no-op", ran=set(), skipped=set(STAGES))
        _say(progress, f"{rows:,} rows: cold dvc repro {i + 1}/{repeats}: {cold[-1].seconds:.1f}s")
        shutil.rmtree(clone)
    return [Scenario(large("cold", rows), cold), Scenario(large("no-op", rows), noop)]


def run(
    root: Path, *, repeats: int, progress: bool = True, large_rows: int = LARGE_ROWS
) -> ReproResult:
    commit = run_timed(["git", "rev-parse", "--short", "HEAD"], cwd=root, env=os.environ)
    scenarios: list[Scenario] = []
    with tempfile.TemporaryDirectory(prefix="tabpipe-bench-") as tmp:
        workdir = Path(tmp)
        with tempfile.TemporaryDirectory(prefix="tabpipe-bench-nopyc-") as empty:
            envs = environments(empty)
            for variant in VARIANTS:
                found, changed, clone = _variant(
                    root, workdir, variant, envs[variant], repeats, progress
                )
                scenarios += found
                data_rows = len(read_table(clone / load_params(clone / "params.yaml").data.raw))
                shutil.rmtree(clone)
        if large_rows:
            scenarios += _large_table(root, workdir, repeats, progress, large_rows)
    return ReproResult(
        commit=commit.stdout.strip(),
        data_rows=data_rows,
        changed_param=changed,
        scenarios=scenarios,
    )


def _say(enabled: bool, message: str) -> None:
    if enabled:
        print(f"[bench] {message}", flush=True)
