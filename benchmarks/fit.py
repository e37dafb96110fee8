"""The default family's fit time alone and beside a competing CPU-bound process.

OpenMP pools (HistGradientBoosting, LightGBM, XGBoost) spin while they wait for work; with
as many threads as cores and another process holding a core, a fit of a fraction of a
second can take minutes. The stages size their pools
and make them wait passively, and run a fit of fewer than
``tabpipe.core.threads.ONE_THREAD_BELOW_ROWS`` rows on one thread (``tabpipe.core.threads``).
This fits the configured family on the bundled data's training split (the pipeline's
contract, seeded split and ``tabpipe.pipeline.train.fit``) in a fresh process per variant,
several times each:

- *alone*, with the thread settings the stages use;
- *alone, all CPUs waiting passively*: ``OMP_NUM_THREADS`` set to the CPU count (so tabpipe
  keeps it, as it keeps any count the user sets) and passive waiting: what the stages did
  before small fits got one thread;
- *beside a busy process* (a Python loop that keeps one CPU busy), with the stages' settings;
- *beside a busy process, OpenMP's defaults*: its wait policy unset and as many threads as
  CPUs (``OMP_NUM_THREADS`` set to that count, OpenMP's default count, so tabpipe keeps
  it), scikit-learn loaded before tabpipe, as a script that imports scikit-learn first
  gets it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.timing import Spread
from tabpipe.core import threads
from tabpipe.core.config import load_params

VARIANTS = {
    "alone": "alone, thread settings of the stages",
    "alone-passive-pool": "alone, all CPUs waiting passively",
    "busy": "beside a busy process, thread settings of the stages",
    "busy-defaults": "beside a busy process, OpenMP's defaults",
}
# The fitting process: scikit-learn is imported before tabpipe, so that without the thread
# variables in its environment OpenMP starts with its defaults (tabpipe's threads.configure
# then comes too late to change the wait policy).
CHILD = """
import json, sys, time
import sklearn.ensemble  # noqa: F401  (OpenMP loads here, reading the environment)
sys.path[:0] = [sys.argv[1]]
from tabpipe.core.config import load_params
from tabpipe.core.contract import check, load_contract
from tabpipe.core.io import read_table
from tabpipe.pipeline.split import split_frame
from tabpipe.pipeline.train import fit
import contextlib, io
from pathlib import Path
params = load_params(Path(sys.argv[2]))
raw = read_table(params.data.raw)
_, valid = check(raw, load_contract(params.data.contract), source="fit", contract="fit")
train, _ = split_frame(valid, params.data.target, params.split,
                       classification=params.data.task.is_classification)
seconds = []
for _ in range(int(sys.argv[3])):
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the train stage's progress lines
        fit(train, params)
    seconds.append(time.perf_counter() - started)
print(json.dumps({"rows": len(train), "seconds": seconds}))
"""
BUSY = "while True: pass"


@dataclass(frozen=True)
class FitVariant:
    name: str
    seconds: Spread | None  # None: it ran past the timeout
    environment: dict[str, str]  # the thread variables the fitting process started with
    fit_threads: int = 0  # the OpenMP threads its fit ran on (tabpipe.core.threads)


@dataclass(frozen=True)
class FitResult:
    family: str
    rows: int
    cpus: int
    repeats: int
    timeout_s: float
    variants: list[FitVariant]


def _environment(variant: str) -> dict[str, str]:
    names = (*threads.POOL_VARIABLES, threads.WAIT_POLICY, threads.SET_BY_TABPIPE)
    env = {k: v for k, v in os.environ.items() if k not in names}
    cpus = str(threads.available_cpus())
    if variant == "busy-defaults":
        env["OMP_NUM_THREADS"] = cpus  # OpenMP's own default count, set as a user sets it
    elif variant == "alone-passive-pool":
        env["OMP_NUM_THREADS"] = cpus
        threads.configure(env)  # passive waiting, and the count kept as the user's
    else:
        threads.configure(env)  # what the stages set before numpy loads
    return env


def _shown(env: dict[str, str]) -> dict[str, str]:
    names = (*threads.POOL_VARIABLES, threads.WAIT_POLICY)
    return {name: env.get(name, "(unset)") for name in names}


def run(root: Path, *, repeats: int = 5, timeout_s: float = 600.0) -> FitResult:
    params = load_params(root / "params.yaml")
    rows = 0
    variants = []
    for variant in VARIANTS:
        env = _environment(variant)
        beside = variant.startswith("busy")
        busy = subprocess.Popen([sys.executable, "-c", BUSY]) if beside else None
        try:
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(root / "src"), "params.yaml", str(repeats)],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=True,
            )
            measured = json.loads(done.stdout.strip().splitlines()[-1])
            rows = measured["rows"]
            spread: Spread | None = Spread(tuple(measured["seconds"]))
        except subprocess.TimeoutExpired:
            spread = None
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
        fit_threads = threads.threads_for_rows(rows, env) if rows else 0
        variants.append(FitVariant(variant, spread, _shown(env), fit_threads))
        shown = "timed out" if spread is None else f"median {spread.median:.2f}s"
        print(f"[bench] fit {variant}: {shown}", flush=True)
    return FitResult(
        params.train.family, rows, threads.available_cpus(), repeats, timeout_s, variants
    )


def markdown(r: FitResult) -> str:
    lines = [
        "## Fit time of the default family: alone and beside a busy process",
        "",
        f"`{r.family}` fitted on the bundled data's training split ({r.rows:,} rows) as the "
        "train stage fits it (contract, seeded split, `tabpipe.pipeline.train.fit`), "
        f"{r.repeats} times in a fresh process per variant; this process may use {r.cpus} "
        "CPUs. The busy process is a Python loop that keeps one CPU busy for the whole "
        "variant. *thread settings of the stages*: `tabpipe.core.threads` sets the pools to "
        "the CPUs the process may use and OpenMP's wait policy to passive before numpy "
        f"loads, and runs a fit of fewer than {threads.ONE_THREAD_BELOW_ROWS:,} rows on one "
        "thread (this one, so there is no waiting at all); *all CPUs waiting passively*: "
        "what the stages did before that; *OpenMP's defaults*: its wait policy unset, as "
        "many threads as CPUs, scikit-learn loaded first. A thread count in the table's "
        "variables set by hand is kept as the user's.",
        "",
        "| variant | thread variables | fit threads | median s | min s | max s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for v in r.variants:
        env = ", ".join(f"`{k}={val}`" for k, val in v.environment.items() if val != "(unset)")
        if v.seconds is None:
            cells = f"> {r.timeout_s:.0f} (timed out) | | "
        else:
            s = v.seconds
            cells = f"{s.median:.2f} | {s.min:.2f} | {max(s.values):.2f}"
        lines.append(f"| {VARIANTS[v.name]} | {env or 'none'} | {v.fit_threads or ''} | {cells} |")
    by = {v.name: v.seconds for v in r.variants}
    alone, busy, defaults = by.get("alone"), by.get("busy"), by.get("busy-defaults")
    pool = by.get("alone-passive-pool")
    lines.append("")
    if alone and pool:
        lines.append(
            f"Alone, the fit took {alone.median:.2f} s with the stages' settings against "
            f"{pool.median:.2f} s on all {r.cpus} CPUs waiting passively "
            f"({_times(pool.median / alone.median)}): a thread that sleeps between the fit's "
            "thousands of short parallel regions must be woken for each of them."
        )
        lines.append("")
    if alone and busy:
        text = (
            f"With the stages' settings a busy neighbour took the fit from {alone.median:.2f} s "
            f"to {busy.median:.2f} s ({_times(busy.median / alone.median)})"
        )
        if defaults is not None:
            text += (
                f"; with OpenMP's defaults the same neighbour made it {defaults.median:.2f} s "
                f"({_times(defaults.median / alone.median)} the fit alone)."
            )
        else:
            text += f"; with OpenMP's defaults it did not finish within {r.timeout_s:.0f} s."
        lines.append(text)
    return "\n".join(lines).rstrip() + "\n"


def _times(ratio: float) -> str:
    """A ratio as "28x" or "0.3x": whole numbers from 10 up, one decimal below."""
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.1f}x"
