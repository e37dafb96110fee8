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

from tabpipe.config import ConfigError, Params, load_params
from tabpipe.contract import ContractError
from tabpipe.io import InputError

EXPECTED_ERRORS = (ConfigError, ContractError, InputError)


class StageFailed(Exception):
    """A stage ran and its check failed; the message says what and by how much."""


def log(stage: str, message: str) -> None:
    print(f"[{stage}] {message}", flush=True)


def run_stage(
    name: str,
    description: str,
    body: Callable[[Params], None],
    argv: Sequence[str] | None = None,
) -> int:
    parser = argparse.ArgumentParser(prog=f"tabpipe {name}", description=description)
    parser.add_argument(
        "--params",
        type=Path,
        default=Path("params.yaml"),
        help="params file (default: params.yaml)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        params = load_params(args.params)
        body(params)
    except StageFailed as exc:
        print(f"[{name}] FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    except EXPECTED_ERRORS as exc:
        print(f"[{name}] ERROR: {exc}", file=sys.stderr, flush=True)
        return 1
    log(name, f"done in {time.perf_counter() - started:.1f}s")
    return 0
