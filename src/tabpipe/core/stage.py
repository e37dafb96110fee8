"""What every stage's command line shares: argument parsing, timing, and clean failure.

A stage's ``main`` returns an exit code. Expected failures (bad params, bad data, a
failed check) print one readable message to stderr and exit 1; they never print a
traceback, and the stage writes nothing it has not finished.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from tabpipe.core import heartbeat, startup, threads, timings
from tabpipe.core.config import ConfigError, Params, load_params
from tabpipe.core.io import InputError
from tabpipe.core.paths import PARAMS_FILE

# Plus tabpipe.core.contract's ContractError, looked up when the stage fails (expected()):
# importing the contract module here would load pandera and pandas into every stage.
EXPECTED_ERRORS: tuple[type[Exception], ...] = (ConfigError, InputError)


def expected(exc: Exception) -> bool:
    """A failure the stage reports in one line (bad params, input or data), not a crash."""
    contract = sys.modules.get("tabpipe.core.contract")  # only a loaded module can raise it
    kinds = EXPECTED_ERRORS + ((contract.ContractError,) if contract is not None else ())
    return isinstance(exc, kinds)


class StageFailed(Exception):
    """A stage ran and its check failed; the message says what and by how much."""


def log(stage: str, message: str, file: TextIO | None = None) -> None:
    """Print ``[stage] message`` (to ``file``, the standard output by default) in one write,
    so that a heartbeat line from the other thread cannot land between it and its newline."""
    out = file or sys.stdout
    out.write(f"[{stage}] {message}\n")
    out.flush()
    heartbeat.said(message)


def run_stage(
    name: str,
    description: str,
    body: Callable[[Params], None],
    argv: Sequence[str] | None = None,
    load: Callable[[Params], None] | None = None,
) -> int:
    """Parse the stage's command line, load its params, run ``body``; the exit code.

    ``load``: imports the stage's libraries that its module loads lazily (so that reading
    the module's results, as the PR report does, stays light). It runs before the stage's
    clock starts, with the module's other imports: the time a stage records for its own
    work (``[stage] done in``, build/timings.jsonl) is that work, not loading libraries.
    """
    parser = argparse.ArgumentParser(prog=f"tabpipe {name}", description=description)
    parser.add_argument(
        "--params",
        type=Path,
        default=PARAMS_FILE,
        help="params file (default: params.yaml)",
    )
    args = parser.parse_args(argv)
    outcome, started, started_at = "crashed", time.perf_counter(), time.time()
    try:
        params = load_params(args.params)
        if load is not None:
            load(params)
        threads.configure()  # limits pools already loaded (tabpipe.pipeline set them before)
        startup.stage_loaded()  # the stage's modules are loaded: the collector may run again
        started, started_at = time.perf_counter(), time.time()
        with heartbeat.beating(name):  # a line after every 15 s of silence
            body(params)
        outcome = "ok"
    except StageFailed as exc:
        outcome = "failed"
        print(f"[{name}] FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    except Exception as exc:
        if not expected(exc):
            raise
        outcome = "error"
        print(f"[{name}] ERROR: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        timings.append(name, started_at, time.time(), outcome)  # run metadata (tabpipe record)
        startup.finish_stage_process()  # a stage process ends here: a faster shutdown
    log(name, f"done in {time.perf_counter() - started:.1f}s")
    return 0
