"""Small shared helpers: summary statistics of repeated timings and timed subprocesses."""

from __future__ import annotations

import gc
import resource
import statistics
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's garbage collector off (after one collection) while timing, then as it was.

    The timing process holds large objects (trained models, frames); a full collection in
    the middle of a timed call would be counted as the call's own time.
    """
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class Spread:
    """Repeated wall times in seconds, summarised as median and min (plus the raw values)."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def n(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Percentiles:
    """Per-call latencies in nanoseconds, summarised as p50/p99 (numpy's linear interpolation)."""

    n: int
    p50_ns: float
    p99_ns: float
    mean_ns: float

    @classmethod
    def of(cls, samples_ns: Sequence[int] | np.ndarray) -> Percentiles:
        values = np.asarray(samples_ns, dtype=np.float64)
        if values.size == 0:
            raise ValueError("no samples")
        p50, p99 = np.percentile(values, [50, 99])
        return cls(int(values.size), float(p50), float(p99), float(values.mean()))


class CommandFailed(RuntimeError):
    """A benchmarked command exited non-zero; the message carries the tail of its output."""


@dataclass(frozen=True)
class Timed:
    seconds: float
    cpu_seconds: float  # user + system time of the command and the processes it waited for
    stdout: str
    stderr: str


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_timed(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float = 600
) -> Timed:
    """Run ``command``; return its wall time (process start to exit), CPU time and output.

    CPU time well below wall time means the command waited: for I/O, or for CPUs that other
    processes were using.
    """
    cpu_before, started = _children_cpu(), time.perf_counter()
    done = subprocess.run(
        list(command), cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout
    )
    seconds, cpu_seconds = time.perf_counter() - started, _children_cpu() - cpu_before
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise CommandFailed(f"{' '.join(command)} (in {cwd}) exited {done.returncode}:\n{tail}")
    return Timed(seconds, cpu_seconds, done.stdout, done.stderr)
