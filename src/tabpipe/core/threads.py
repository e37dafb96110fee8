"""Thread pools sized to the CPUs this process may use, with passive waiting.

OpenMP (HistGradientBoosting, LightGBM, XGBoost), BLAS and onnxruntime size their pools
from the machine's core count and spin while they wait for work. On a shared machine, or
in a container given fewer CPUs than the host has, a pool larger than the CPUs really
available spins against its neighbours: a 0.24 s fit took 80 to 119 s beside one busy
process. :func:`configure` sets the pools to the CPUs this process may run on (its
affinity mask, capped by the cgroup CPU quota) and makes OpenMP wait passively.

Passive waiting has its own price: an OpenMP thread that sleeps between parallel regions
must be woken for the next one, and a model fit is thousands of short regions. On this
2-CPU virtual machine a HistGradientBoosting fit of the bundled training split (3,563 rows)
took 0.91 s on two passively waiting threads against 0.13 s on one; two threads only pay
off from about 200,000 rows (240,000 rows: 4.0 s against 4.3 s; 400,000: 5.3 against
6.8 s). The results are the same on any thread count. So a fit or a prediction smaller
than :data:`ONE_THREAD_BELOW_ROWS` runs on one thread (:func:`sized_for`): no waiting at
all, hence no neighbour can slow it either. A thread count the user set is kept as it is.

It must run before numpy, scikit-learn or onnxruntime are imported: OpenMP and OpenBLAS
read these variables once, when they are loaded. The entry points call it first
(``tabpipe.pipeline`` for ``python -m tabpipe.pipeline.<stage>``, the stage runner,
``tabpipe.cli``, the service, the tests' conftest). Variables the user set are kept.

Standard library only: the serving image carries this module without scikit-learn. (No
library computes the cgroup quota without importing heavy packages: loky does it, but
only as part of joblib.)
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
POOL_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
WAIT_POLICY = "OMP_WAIT_POLICY"
# Libraries whose pools threadpoolctl can still resize if they were imported first.
NATIVE_POOLS = ("numpy", "scipy", "sklearn", "lightgbm", "xgboost")
# The variables tabpipe set rather than the user (inherited by the processes it starts,
# such as dvc's stages): comma-separated names.
SET_BY_TABPIPE = "TABPIPE_THREADS_SET"
# Fits and predictions on fewer rows run on one OpenMP thread (measured: see the module
# docstring and docs/benchmarks.md, "Fit time of the default family").
ONE_THREAD_BELOW_ROWS = 200_000


def affinity_cpus() -> int:
    """CPUs in this process's affinity mask (all CPUs where the OS has no such call)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        return os.cpu_count() or 1


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _cgroup_paths(proc_cgroup: Path) -> dict[str, str]:
    """This process's cgroup per controller ("" for the v2 unified hierarchy)."""
    paths: dict[str, str] = {}
    for line in (_read(proc_cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(","):
                paths[controller] = parts[2]
    return paths


def _ancestors(root: Path, relative: str) -> list[Path]:
    """The cgroup directory and each parent up to the mount point (limits nest)."""
    directory = root / relative.lstrip("/")
    found = []
    while True:
        found.append(directory)
        if directory == root or root not in directory.parents:
            return found
        directory = directory.parent


def _v2_quota(root: Path, relative: str) -> float | None:
    limits = []
    for directory in _ancestors(root, relative):
        fields = (_read(directory / "cpu.max") or "").split()
        if len(fields) == 2 and fields[0] != "max":
            try:
                quota, period = int(fields[0]), int(fields[1])
            except ValueError:
                continue
            if quota > 0 and period > 0:
                limits.append(quota / period)
    return min(limits) if limits else None


def _v1_quota(root: Path, relative: str) -> float | None:
    limits = []
    for mount in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        for directory in _ancestors(root / mount, relative):
            try:
                quota = int(_read(directory / "cpu.cfs_quota_us") or "-1")
                period = int(_read(directory / "cpu.cfs_period_us") or "0")
            except ValueError:
                continue
            if quota > 0 and period > 0:
                limits.append(quota / period)
    return min(limits) if limits else None


def cgroup_cpus(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (1.5 = 150 ms per 100 ms), or None.

    cgroup v2: ``cpu.max`` ("max 100000" is no limit) in the process's cgroup and each
    parent; v1: ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (-1 is no limit). The
    smallest limit on the way up applies.
    """
    paths = _cgroup_paths(proc_cgroup)
    if "" in paths:
        quota = _v2_quota(root, paths[""])
        if quota is not None:
            return quota
    v1 = paths.get("cpu")
    return _v1_quota(root, v1) if v1 is not None else _v2_quota(root, "/")


def available_cpus(
    affinity: int | None = None,
    root: Path = CGROUP_ROOT,
    proc_cgroup: Path = PROC_CGROUP,
) -> int:
    """The CPUs this process may keep busy: its affinity, capped by the cgroup quota.

    A fractional quota rounds up (1.5 CPUs: two threads), as loky and the JVM do.
    """
    cpus = affinity_cpus() if affinity is None else affinity
    quota = cgroup_cpus(root, proc_cgroup)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def configure(environ: MutableMapping[str, str] | None = None, cpus: int | None = None) -> int:
    """Size the native thread pools to :func:`available_cpus` and make OpenMP wait passively.

    Sets each of OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS and OMP_WAIT_POLICY
    the user has not set. If numpy or a library with an OpenMP pool is loaded already (the
    variables come too late for it), threadpoolctl limits its pools instead, when it is
    installed. Returns the thread count the pools get.
    """
    env = os.environ if environ is None else environ
    threads = cpus if cpus is not None else available_cpus()
    ours = set(filter(None, env.get(SET_BY_TABPIPE, "").split(",")))
    settings = {**dict.fromkeys(POOL_VARIABLES, str(threads)), WAIT_POLICY: "PASSIVE"}
    for name, value in settings.items():
        if name not in env:
            env[name] = value
            ours.add(name)
    if ours:
        env[SET_BY_TABPIPE] = ",".join(sorted(ours))
    if environ is None:
        global _set_before_loading
        if not any(name in sys.modules for name in NATIVE_POOLS):
            _set_before_loading = True  # the libraries will read the variables themselves
        elif not _set_before_loading:
            _limit_loaded_pools(pool_threads(env, threads))
    return pool_threads(env, threads)


def user_set_threads(environ: MutableMapping[str, str] | None = None) -> bool:
    """True if OMP_NUM_THREADS was set by the user, not by :func:`configure`."""
    env = os.environ if environ is None else environ
    ours = env.get(SET_BY_TABPIPE, "").split(",")
    return "OMP_NUM_THREADS" in env and "OMP_NUM_THREADS" not in ours


def threads_for_rows(rows: int, environ: MutableMapping[str, str] | None = None) -> int:
    """OpenMP threads for a fit or a prediction on ``rows`` rows: one below
    :data:`ONE_THREAD_BELOW_ROWS`, else the pool's size; the user's OMP_NUM_THREADS wins."""
    pool = pool_threads(environ, default=available_cpus())
    if user_set_threads(environ) or rows >= ONE_THREAD_BELOW_ROWS:
        return pool
    return 1


@contextlib.contextmanager
def sized_for(rows: int) -> Iterator[int]:
    """Run the block with the OpenMP pools at :func:`threads_for_rows` threads; yields it.

    threadpoolctl resizes the pools of the libraries already loaded (scikit-learn's
    OpenMP here) and restores them afterwards; without it (the serving image) nothing
    changes.
    """
    threads = threads_for_rows(rows)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield pool_threads(default=available_cpus())
        return
    with threadpool_limits(limits=threads, user_api="openmp"):
        yield threads


def pool_threads(environ: MutableMapping[str, str] | None = None, default: int = 1) -> int:
    """The thread count for an OpenMP pool: OMP_NUM_THREADS if it is a number, else default."""
    value = (os.environ if environ is None else environ).get("OMP_NUM_THREADS", "")
    first = value.split(",")[0].strip()  # OpenMP allows a list, one count per nesting level
    return int(first) if first.isdigit() and int(first) > 0 else default


_set_before_loading = False  # configure() ran before any library with a pool was imported
_limited: Any = None  # threadpoolctl's limiter, kept so the limits stay in force


def _limit_loaded_pools(threads: int) -> None:
    global _limited
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the serving environment has no threadpoolctl: nothing to limit
        return
    _limited = threadpool_limits(limits=threads)


def onnxruntime_options(options: Any) -> Any:
    """onnxruntime ``SessionOptions`` sized to the process: one intra-op pool of the
    available CPUs, no inter-op parallelism, and no spinning between runs."""
    options.intra_op_num_threads = pool_threads(default=available_cpus())
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options
