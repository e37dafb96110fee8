"""What the numbers were measured on: CPU, memory, software versions, relevant environment."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path

from benchmarks import INHERITED

PACKAGES = (
    "pandas",
    "numpy",
    "pyarrow",
    "pandera",
    "scikit-learn",
    "skl2onnx",
    "onnx",
    "onnxruntime",
    "dvc",
)
# Environment variables that change what these benchmarks measure; reported as the run had
# them (the thread variables are set by tabpipe.core.threads where unset: shown as such).
ENVIRONMENT = (
    "OPENBLAS_CORETYPE",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPYCACHEPREFIX",
)


@dataclass(frozen=True)
class Machine:
    date: str
    cpu_model: str
    logical_cpus: int
    usable_cpus: int
    memory_gib: float
    os: str
    python: str
    packages: dict[str, str]
    environment: dict[str, str]
    git_commit: str
    git_dirty: bool
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] | None = field(default=None)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return float("nan")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _git(*args: str, cwd: Path) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return done.stdout.strip()


def environment_value(name: str) -> str:
    """The variable's value in this run, saying when tabpipe.core.threads set it."""
    value = os.environ.get(name)
    if value is None:
        return "(unset)"
    if name in INHERITED and INHERITED[name] is None:
        return f"{value} (set by `tabpipe.core.threads`)"
    return value


def describe(root: Path) -> Machine:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return Machine(
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        cpu_model=cpu_model(),
        logical_cpus=os.cpu_count() or 0,
        usable_cpus=usable or 0,
        memory_gib=memory_gib(),
        os=f"{platform.system()} {platform.release()} {platform.machine()}",
        python=platform.python_version(),
        packages=package_versions(),
        environment={name: environment_value(name) for name in ENVIRONMENT},
        git_commit=_git("rev-parse", "--short", "HEAD", cwd=root) or "unknown",
        git_dirty=bool(_git("status", "--porcelain", "--untracked-files=no", cwd=root)),
        load_before=os.getloadavg(),
    )


def finished(machine: Machine) -> Machine:
    """The same record with the load average at the end of the run."""
    return replace(machine, load_after=os.getloadavg())
