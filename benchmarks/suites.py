"""How long the test suites take: `make test`, `make test-onboarding`, `make rehearse`, CI.

Each suite runs in one ``git clone`` of HEAD in a temporary directory, as a new user (or CI
on a clean clone) runs it: `make setup` and `make data` first (timed on their own), then
each suite's command one after the other. Wall time, CPU time (user + system of the suite
and everything it started), the exit status and pytest's closing summary are recorded; a
failed suite is reported as failed, with its time. The 1-minute load average as each suite
starts says how busy the machine was (the suites themselves use both CPUs).
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SUITES = {
    "make test": ["make", "test"],
    "bash .ci/run": ["bash", ".ci/run"],
    "make test-onboarding": ["make", "test-onboarding"],
    "make rehearse": ["make", "rehearse"],
}
GOALS = {"make test": 5.0, "bash .ci/run": 10.0}  # minutes, from the issue
# `make bench` runs the suites with a goal; the slow ones (two hours together) when named.
DEFAULT = tuple(GOALS)
SUMMARY = re.compile(r"^=+ (.*(?:passed|failed|error|no tests ran).*) =+$", re.MULTILINE)
TIMEOUT = 3 * 3600.0


@dataclass(frozen=True)
class SuiteRun:
    name: str
    seconds: float
    cpu_seconds: float
    exit_code: int | None  # None: killed at the timeout
    load_at_start: float
    summary: str  # pytest's last summary line(s), e.g. "520 passed, 9 deselected in 250s"
    tail: str = ""  # the last output lines when it failed


@dataclass(frozen=True)
class SuitesResult:
    commit: str
    setup_seconds: float
    data_seconds: float
    suites: list[SuiteRun] = field(default_factory=list)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(
    command: list[str], cwd: Path, env: dict[str, str]
) -> tuple[float, float, int | None, str]:
    cpu, started = _children_cpu(), time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )
        code: int | None = done.returncode
        output = done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        code, output = None, str(exc.stdout or "") + str(exc.stderr or "")
    return time.perf_counter() - started, _children_cpu() - cpu, code, output


def summaries(output: str) -> str:
    """pytest's closing summary lines (one per pytest run, e.g. lint then tests), joined."""
    return "; ".join(match.strip() for match in SUMMARY.findall(output))


def run(root: Path, *, suites: tuple[str, ...] = DEFAULT, progress: bool = True) -> SuitesResult:
    def say(message: str) -> None:
        if progress:
            print(f"[bench] suites: {message}", flush=True)

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(root))
    )
    uv = root / ".tools" / "bin" / "uv"
    make_args = [f"UV={uv}"] if uv.exists() else []  # as the tests do: no second uv install
    with tempfile.TemporaryDirectory(prefix="tabpipe-bench-suites-") as tmp:
        # mkdtemp makes it 0700: open it as a checkout usually is, so the test that serves a
        # bundle as another user runs here as it does in CI, instead of being not applicable.
        os.chmod(tmp, 0o755)
        clone = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "--quiet", str(root), str(clone)], check=True)
        say(f"make setup in a clone of {commit}")
        setup_s, _, code, output = _run(["make", "setup", *make_args], clone, env)
        if code != 0:
            raise RuntimeError(f"make setup failed:\n{output[-3000:]}")
        data_s, _, code, output = _run(["make", "data", *make_args], clone, env)
        if code != 0:
            raise RuntimeError(f"make data failed:\n{output[-3000:]}")
        result = SuitesResult(commit, setup_s, data_s)
        for name in suites:
            load = os.getloadavg()[0]
            say(f"{name} (1-minute load {load:.2f})")
            command = SUITES[name]
            command = [*command, *make_args] if command[0] == "make" else command
            seconds, cpu, code, output = _run(command, clone, {**env, **_uv_env(uv)})
            tail = "" if code == 0 else "\n".join(output.strip().splitlines()[-15:])
            result.suites.append(SuiteRun(name, seconds, cpu, code, load, summaries(output), tail))
            outcome = "passed" if code == 0 else f"exit {code}"
            say(f"{name}: {outcome} in {seconds / 60:.1f} min")
    return result


def _uv_env(uv: Path) -> dict[str, str]:
    """.ci/run calls make itself: UV in the environment reaches it (make reads it)."""
    return {"UV": str(uv)} if uv.exists() else {}


def markdown(r: SuitesResult) -> str:
    lines = [
        "## Test suites",
        "",
        f"Each suite ran in one `git clone` of commit `{r.commit}` in a temporary directory, "
        "one after the other, as a new user or CI on a clean clone runs it: `make setup` "
        f"({r.setup_seconds:.0f} s: the locked environment with compiled bytecode) and `make "
        f"data` ({r.data_seconds:.0f} s) first, not counted below. *CPU min*: user + system "
        "time of the suite and everything it started; *load*: the 1-minute load average as "
        "the suite started (the suites keep both CPUs busy themselves, so a load well above "
        "2 means other work shared the machine).",
        "",
        "| suite | wall min | CPU min | load | outcome | pytest |",
        "|---|---:|---:|---:|---|---|",
    ]
    for s in r.suites:
        outcome = (
            "passed"
            if s.exit_code == 0
            else ("timed out" if s.exit_code is None else f"**failed** (exit {s.exit_code})")
        )
        lines.append(
            f"| `{s.name}` | {s.seconds / 60:.1f} | {s.cpu_seconds / 60:.1f} | "
            f"{s.load_at_start:.2f} | {outcome} | {s.summary or '-'} |"
        )
    lines.append("")
    for s in r.suites:
        goal = GOALS.get(s.name)
        if goal is not None:
            met = s.exit_code == 0 and s.seconds / 60 < goal
            lines.append(
                f"- `{s.name}`: {s.seconds / 60:.1f} min against a goal of under {goal:g} min: "
                f"{'met' if met else '**not met**'}."
            )
    left = [name for name in SUITES if name not in {s.name for s in r.suites}]
    if left:
        lines += [
            "",
            "Not run in this measurement (name them with `--suites`): "
            + ", ".join(f"`{n}`" for n in left)
            + ".",
        ]
    for s in r.suites:
        if s.exit_code != 0:
            lines += ["", f"`{s.name}` ended with:", "", "```", s.tail, "```"]
    return "\n".join(lines).rstrip() + "\n"
