"""Scale: the real pipeline stages on 10k to 10M synthetic rows; wall time and peak memory.

For each size, rows are generated from the bundled data's distribution
(:mod:`benchmarks.synthetic`) into a Parquet file inside a ``git clone`` of HEAD in a
temporary directory; ``data.raw`` points at it there, and the stages run one by one as
``python -m tabpipe.pipeline.<stage>`` subprocesses (the clone's sources first on
``PYTHONPATH``), as ``dvc repro`` would run them, after ``tabpipe champion`` (as ``make run``
does). Each stage's wall time, CPU time and peak RSS come from ``os.wait4`` on its process
(peak RSS is the kernel's high-water mark of that process). The contract and the params are
the project's own, at full default settings (``OVERRIDES`` is empty unless ``--set`` says
otherwise). A gate that refuses the model still ran: its outcome is ``rejected``.

Run alone: ``python -m benchmarks.scale --sizes 10k,100k`` (writes .bench/scale.md).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.repro import clone_env, set_param
from benchmarks.synthetic import write_for_project
from tabpipe.core.config import load_params
from tabpipe.core.io import read_table

SIZES = (10_000, 100_000, 1_000_000, 10_000_000)
STAGES = ("validate", "split", "train", "evaluate", "export", "profile", "gate")
OVERRIDES: dict[str, Any] = {}  # the scale runs use params.yaml as it is
STAGE_TIMEOUT = 1800.0
GATE_VERDICT = Path("reports/gate.json")
# Each stage is started by a small Python launcher that waits for it and writes its CPU time
# and peak RSS: Linux keeps a process's peak RSS across fork and exec, so a stage started
# straight from this (large) process would report this process's size as its own peak.
LAUNCH = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"cpu_seconds": usage.ru_utime + usage.ru_stime, "maxrss_kib": usage.ru_maxrss}, out)
sys.exit(os.waitstatus_to_exitcode(status))
"""
GOAL_ROWS, GOAL_SECONDS = 10_000_000, 600.0  # issue 11: 10M rows in under 10 minutes
STAGE_DONE = re.compile(r"^\[(\w+)\] done in ([0-9.]+)s$")
SYNTHETIC = Path("data/synthetic.parquet")
SEED = 0


@dataclass(frozen=True)
class StageRun:
    stage: str
    seconds: float
    cpu_seconds: float
    peak_rss_gib: float
    load_at_start: float  # 1-minute load average when the stage started
    outcome: str  # ok | failed (exit code) | timeout
    tail: str = ""  # last output lines when the stage did not succeed
    body_seconds: float = float("nan")  # the stage's own "[stage] done in" time (no start-up)

    @property
    def completed(self) -> bool:
        """It did all its work: ok, or a gate that wrote its verdict and refused the model."""
        return self.outcome in {"ok", "rejected"}


@dataclass(frozen=True)
class SizeRun:
    rows: int
    generate_seconds: float
    file_mib: float
    stages: list[StageRun]

    @property
    def ok(self) -> bool:
        return len(self.stages) == len(STAGES) and all(s.completed for s in self.stages)


@dataclass(frozen=True)
class ScaleResult:
    commit: str
    source_rows: int
    overrides: dict[str, Any]
    seed: int
    memory_gib: float
    sizes: list[SizeRun] = field(default_factory=list)


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"10k,100k,1M,10M"`` -> (10000, 100000, 1000000, 10000000)."""
    factors = {"k": 1_000, "m": 1_000_000}
    sizes = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        if not part:
            continue
        factor = factors.get(part[-1], 1)
        number = part[:-1] if part[-1] in factors else part
        try:
            value = int(float(number) * factor)
        except ValueError:
            raise ValueError(f"not a row count: {part!r} (use e.g. 10k, 1M or 250000)") from None
        if value <= 0:
            raise ValueError(f"row counts must be positive, got {part!r}")
        sizes.append(value)
    if not sizes:
        raise ValueError("no sizes given")
    return tuple(sizes)


def label(rows: int) -> str:
    if rows >= 1_000_000 and rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows >= 1_000 and rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return f"{rows:,}"


def run_stage(
    command: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    echo: Callable[[str], None],
) -> tuple[float, float, float, int | None, list[str]]:
    """Run one command, echoing its output; return wall s, CPU s, peak RSS GiB, exit code, log.

    The command runs under a small launcher process (``LAUNCH``) that reports the command's
    own CPU time and peak RSS. The exit code is None when the command ran past ``timeout``
    and was killed.
    """
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tabpipe-scale-usage-") as tmp:
        usage_file = Path(tmp) / "usage.json"
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, str(usage_file), *command],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,  # the launcher and the stage: one group to kill
        )
        lines: list[str] = []
        assert proc.stdout is not None
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            os.killpg(proc.pid, signal.SIGKILL)

        watchdog = threading.Timer(timeout, kill)
        watchdog.start()
        try:
            for line in proc.stdout:  # the stages flush each log line: this follows them live
                lines.append(line.rstrip("\n"))
                echo(lines[-1])
        finally:
            watchdog.cancel()
        proc.stdout.close()
        code = proc.wait()
        seconds = time.perf_counter() - started
        usage = json.loads(usage_file.read_text()) if usage_file.exists() else {}
    cpu = float(usage.get("cpu_seconds", float("nan")))
    peak = float(usage.get("maxrss_kib", float("nan"))) / 1024**2
    return seconds, cpu, peak, None if killed.is_set() else code, lines


def body_seconds(stage: str, lines: Sequence[str]) -> float:
    """The time a stage logs for its own body (after imports), NaN if it did not finish."""
    for line in reversed(lines):
        match = STAGE_DONE.match(line.strip())
        if match and match[1] == stage:
            return float(match[2])
    return float("nan")


def run_size(
    root: Path, workdir: Path, rows: int, overrides: dict[str, Any], say: Callable[[str], None]
) -> SizeRun:
    tag = label(rows)
    clone = workdir / f"scale-{tag}"
    subprocess.run(["git", "clone", "--quiet", str(root), str(clone)], check=True)
    params_file = clone / "params.yaml"
    for dotted, value in {"data.raw": str(SYNTHETIC), **overrides}.items():
        set_param(params_file, dotted, value)
    say(f"{tag}: generating {rows:,} synthetic rows into {clone / SYNTHETIC}")

    def generated(done: int) -> None:
        if rows > 1_000_000:
            say(f"{tag}: generated {done:,}/{rows:,} rows")

    started = time.perf_counter()
    write_for_project(root, rows, clone / SYNTHETIC, seed=SEED, progress=generated)
    generate_seconds = time.perf_counter() - started
    file_mib = (clone / SYNTHETIC).stat().st_size / 1024**2
    env = clone_env(clone)
    stages: list[StageRun] = []

    def echo(line: str) -> None:
        print(f"    {tag} {line}", flush=True)

    champion = [sys.executable, "-m", "tabpipe.release.champion", "--offline"]
    subprocess.run(champion, cwd=clone, env=env, check=True, capture_output=True)
    for stage in STAGES:
        load = os.getloadavg()[0]
        say(f"{tag}: {stage} (1-min load {load:.2f})")
        seconds, cpu, peak, code, lines = run_stage(
            [sys.executable, "-m", f"tabpipe.pipeline.{stage}"],
            cwd=clone,
            env=env,
            timeout=STAGE_TIMEOUT,
            echo=echo,
        )
        outcome = "ok" if code == 0 else ("timeout" if code is None else f"exit {code}")
        if stage == "gate" and code == 1 and _refused(clone / GATE_VERDICT):
            outcome = "rejected"
        tail = "" if outcome in {"ok", "rejected"} else "\n".join(lines[-10:])
        body = body_seconds(stage, lines)
        stages.append(StageRun(stage, seconds, cpu, peak, load, outcome, tail, body))
        say(f"{tag}: {stage} {outcome} in {seconds:.1f}s, peak RSS {peak:.2f} GiB")
        if outcome not in {"ok", "rejected"}:
            break
    return SizeRun(rows, generate_seconds, file_mib, stages)


def _refused(verdict: Path) -> bool:
    """The gate wrote a verdict that does not bless the model (it ran; it said no)."""
    try:
        return json.loads(verdict.read_text(encoding="utf-8")).get("blessed") is False
    except (OSError, ValueError):
        return False


def run(
    root: Path,
    *,
    sizes: Sequence[int] = SIZES,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> ScaleResult:
    overrides = dict(OVERRIDES if overrides is None else overrides)

    def say(message: str) -> None:
        if progress:
            print(f"[bench] scale {message}", flush=True)

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    params = load_params(root / "params.yaml")
    result = ScaleResult(
        commit=commit,
        source_rows=len(read_table(root / params.data.raw)),
        overrides=overrides,
        seed=SEED,
        memory_gib=_memory_gib(),
    )
    for rows in sizes:
        # One clone per size, deleted before the next: 10M rows make ~1 GiB of files.
        with tempfile.TemporaryDirectory(prefix="tabpipe-scale-") as tmp:
            result.sizes.append(run_size(root, Path(tmp), rows, overrides, say))
    return result


def load(path: Path) -> ScaleResult:
    """A result back from the JSON that :func:`main` writes beside the Markdown."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    sizes = [
        SizeRun(**{**size, "stages": [StageRun(**stage) for stage in size["stages"]]})
        for size in raw.pop("sizes")
    ]
    return ScaleResult(**raw, sizes=sizes)


def standalone(result: ScaleResult, command: str, date: str) -> str:
    """The section as a document of its own (``python -m benchmarks.scale --output ...``)."""
    return (
        "# Benchmarks: scale\n\n"
        f"<!-- Generated by `{command}` (benchmarks/scale.py); edits by hand are overwritten. "
        "-->\n\n"
        f"Measured {date}. `python -m benchmarks.run --only scale` runs the same benchmark "
        "and replaces the Scale section of docs/benchmarks.md.\n\n" + markdown(result)
    )


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return float("nan")


def _number(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "n/a"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str) -> list[str]:
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def markdown(result: ScaleResult) -> str:
    """The ``## Scale`` section of docs/benchmarks.md; every reading is computed."""
    overrides = ", ".join(f"`{k}: {v}`" for k, v in result.overrides.items()) or "none"
    rows = sorted(size.rows for size in result.sizes) or [0]
    lines = [
        f"## Scale: the pipeline on {label(rows[0])} to {label(rows[-1])} rows",
        "",
        f"Synthetic rows generated from the {result.source_rows:,}-row bundled data "
        "(`benchmarks/synthetic.py`: rows resampled with replacement, seed "
        f"{result.seed}; numeric values times 1 + N(0, 0.05), rounded where the source is "
        "whole, clipped to the contract's bounds; missing values, categories and labels "
        "copied) and written as Parquet into a clone of commit "
        f"`{result.commit}`, one clone per size. The stages ran one after another as "
        "`python -m tabpipe.<stage>` subprocesses with `data.raw` pointing at the synthetic "
        "file; the contract is unchanged. Params override for these runs: "
        f"{overrides} (everything else as in `params.yaml`). *wall s* and *CPU s* (user + "
        "system) and *peak GiB* (the process's peak RSS) come from `os.wait4` on each stage "
        "process, start-up and imports included; *body s* is the time the stage logs for its "
        "own work (`[stage] done in`), after its imports. *load*: the 1-minute load average "
        f"when the stage started; the machine has {result.memory_gib:.1f} GiB of memory and "
        "was shared with other work, so CPU s well below wall s means the stage waited for a "
        "CPU.",
        "",
    ]
    table: list[list[object]] = []
    previous: dict[str, StageRun] = {}
    previous_rows = 0
    for size in result.sizes:
        for s in size.stages:
            before = previous.get(s.stage)
            table.append(
                [
                    f"{size.rows:,}",
                    s.stage,
                    _number(s.seconds),
                    _number(s.body_seconds),
                    _number(s.cpu_seconds),
                    _number(s.peak_rss_gib, 2),
                    _growth(s, before, size.rows / previous_rows if previous_rows else 0),
                    f"{s.load_at_start:.2f}",
                    s.outcome,
                ]
            )
        finished = [s for s in size.stages if s.completed]
        total = sum(s.seconds for s in finished)
        peak = max((s.peak_rss_gib for s in finished), default=float("nan"))
        unlogged = _unlogged(finished)
        body = _number(sum(s.body_seconds for s in finished if s.stage not in unlogged))
        table.append(
            [
                f"{size.rows:,}",
                "**all stages**" if size.ok else "**stages finished**",
                f"**{total:.1f}**",
                f"{body} (without {', '.join(unlogged)})" if unlogged else body,
                _number(sum(s.cpu_seconds for s in finished)),
                f"**{_number(peak, 2)}**",
                "",
                "",
                "ok" if size.ok else "**incomplete**",
            ]
        )
        previous = {s.stage: s for s in size.stages if s.completed}
        previous_rows = size.rows
    lines += _table(
        ["rows", "stage", "wall s", "body s", "CPU s", "peak GiB", "growth", "load", "outcome"],
        table,
        "llrrrrrrl",
    )
    lines += [
        "",
        "*growth*: the stage's body time (its wall time where a body time is missing) over the "
        "same stage's at the size above, beside the growth in rows; near the rows' factor "
        "means cost linear in rows, a smaller one that fixed costs still weigh. A gate that "
        "refuses the model logs no body time (its `done in` line is printed on success "
        "only): *n/a* there, and its wall time stands in for it in the growth figures.",
    ]
    lines += [
        "",
        "Generating the synthetic file (not part of the pipeline; chunks of 500,000 rows): "
        + ", ".join(
            f"{label(s.rows)} in {_number(s.generate_seconds)} s ({_number(s.file_mib)} MiB)"
            for s in result.sizes
        )
        + ".",
        "",
        *_reading(result),
    ]
    for size in result.sizes:
        for s in size.stages:
            if not s.completed:
                lines += [
                    f"{label(size.rows)} rows, stage {s.stage}: {s.outcome}; last output:",
                    "",
                    "```",
                    s.tail,
                    "```",
                    "",
                ]
    return "\n".join(lines).rstrip() + "\n"


def _unlogged(stages: Sequence[StageRun]) -> list[str]:
    """Completed stages that logged no body time (a gate that refused the model)."""
    return [s.stage for s in stages if not math.isfinite(s.body_seconds)]


def _costs(run: StageRun, before: StageRun) -> tuple[float, float]:
    """Both runs' body times where both logged one, else both wall times."""
    use_body = all(math.isfinite(r.body_seconds) and r.body_seconds > 0 for r in (run, before))
    return (run.body_seconds, before.body_seconds) if use_body else (run.seconds, before.seconds)


def _growth(run: StageRun, before: StageRun | None, rows_factor: float) -> str:
    if before is None or not rows_factor:
        return ""
    now, then = _costs(run, before)
    return f"x{now / then:.1f} ({rows_factor:.0f}x rows)" if then > 0 else ""


def _reading(result: ScaleResult) -> list[str]:
    complete = [s for s in result.sizes if s.ok]
    if not complete:
        return ["No size completed every stage; see the outcomes above.", ""]
    largest = max(complete, key=lambda s: s.rows)
    total = sum(s.seconds for s in largest.stages)
    by_wall = sorted(largest.stages, key=lambda s: s.seconds, reverse=True)
    heaviest_memory = max(largest.stages, key=lambda s: s.peak_rss_gib)
    text = (
        f"At {largest.rows:,} rows, the largest size that completed every stage, the stages "
        f"took {total:.0f} s of wall time in all; {by_wall[0].stage} dominated with "
        f"{by_wall[0].seconds:.0f} s ({by_wall[0].seconds / total:.0%}), then "
        f"{by_wall[1].stage} ({by_wall[1].seconds:.0f} s, {by_wall[1].seconds / total:.0%})."
    )
    if largest.rows >= GOAL_ROWS:
        met = "met" if total < GOAL_SECONDS else "**not met**"
        text += f" Goal: the whole pipeline at 10M rows in under 10 minutes here: {met}."
    unlogged = _unlogged(largest.stages)
    body = sum(s.body_seconds for s in largest.stages if s.stage not in unlogged)
    text += f" The stage bodies (after imports) account for {body:.0f} s of it" + (
        f" ({', '.join(unlogged)} logged no body time)." if unlogged else "."
    )
    refused = [s.stage for s in largest.stages if s.outcome == "rejected"]
    if refused:
        text += (
            " The gate ran and refused the model on these synthetic rows (its verdict lists "
            "the checks; every stage did its work)."
        )
    cpu = sum(s.cpu_seconds for s in largest.stages)
    if math.isfinite(cpu):
        by_cpu = max(largest.stages, key=lambda s: s.cpu_seconds)
        text += (
            f" CPU time: {cpu:.0f} s, most of it in {by_cpu.stage} ({by_cpu.cpu_seconds:.0f} s)."
        )
    text += (
        f" Peak memory was highest in {heaviest_memory.stage}: "
        f"{heaviest_memory.peak_rss_gib:.1f} GiB of the machine's {result.memory_gib:.0f} GiB."
    )
    smaller = [s for s in complete if s.rows < largest.rows]
    if smaller:
        base = max(smaller, key=lambda s: s.rows)
        factor = largest.rows / base.rows
        parts, walls = [], []
        for a, b in zip(largest.stages, base.stages, strict=True):
            now, then = _costs(a, b)
            parts.append(f"{b.stage} x{now / then:.1f}" if then > 0 else f"{b.stage} n/a")
            if now == a.seconds and then == b.seconds:
                walls.append(b.stage)
        measure = "stage body time" + (f" (wall time for {', '.join(walls)})" if walls else "")
        if len(walls) == len(parts):
            measure = "wall time"
        base_peak = max(s.peak_rss_gib for s in base.stages)
        text += (
            f" From {base.rows:,} to {largest.rows:,} rows ({factor:.0f}x the rows) the "
            f"{measure} grew per stage: {', '.join(parts)}; the largest peak RSS grew "
            f"x{heaviest_memory.peak_rss_gib / base_peak:.1f}. A factor near {factor:.0f} "
            "means cost linear in rows; a smaller one, that fixed costs still weigh."
        )
    return [text, ""]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sizes",
        default=os.environ.get("TABPIPE_BENCH_SIZES", "10k,100k,1M,10M"),
        help="comma-separated row counts, e.g. 10k,100k,1M,10M (env TABPIPE_BENCH_SIZES)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"a params override for the scale runs, replacing the default {OVERRIDES}; "
        "VALUE is YAML (repeatable)",
    )
    parser.add_argument("--output", type=Path, default=Path(".bench/scale.md"))
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="do not run: write the Markdown from the JSON an earlier run wrote",
    )
    args = parser.parse_args(argv)
    try:
        sizes = parse_sizes(args.sizes)
    except ValueError as exc:
        parser.error(str(exc))
    overrides = None
    if args.set:
        import yaml

        overrides = {}
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep:
                parser.error(f"--set takes KEY=VALUE, got {item!r}")
            overrides[key] = yaml.safe_load(value)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if args.render is not None:
        result = load(args.render)
        date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(args.render.stat().st_mtime))
        args.output.write_text(standalone(result, "python -m benchmarks.scale", date), "utf-8")
        print(f"[bench] wrote {args.output} from {args.render}", flush=True)
        return 0
    result = run(Path.cwd(), sizes=sizes, overrides=overrides)
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    args.output.write_text(standalone(result, "python -m benchmarks.scale", date), "utf-8")
    dump = args.output.with_suffix(".json")
    dump.write_text(json.dumps(asdict(result), indent=2) + "\n", encoding="utf-8")
    print(f"[bench] wrote {args.output} and {dump}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
