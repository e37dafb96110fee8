"""``make bench``: run the benchmarks and update ``docs/benchmarks.md`` section by section.

The document is a set of sections (:mod:`benchmarks.document`), one per benchmark plus the
machine description, each with its own provenance line: the command, date, commit and load
of the run that measured it. A run replaces the sections it measured and keeps the others
byte for byte, so ``python -m benchmarks.run --only serving drift`` refreshes those two
without the hour-long scale run. ``make bench`` runs every benchmark.

Reduced runs (``--quick``, or ``--sizes`` other than 10k,100k,1M,10M for the scale
benchmark) update the git-ignored .bench/benchmarks.md instead, unless ``--output`` says
otherwise, so that reduced figures never replace the committed ones by accident. The raw
numbers of the run go to .bench/benchmarks.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks import (
    document,
    drift,
    fit,
    latency,
    machine,
    report,
    repro,
    scale,
    scoring,
    serving,
    startup,
    suites,
    validation,
)
from tabpipe.core.config import load_params

# Every section but the machine's, in the document's order, the test suites last (slowest).
BENCHMARKS = (*(name for name in document.ORDER if name not in {"machine", "suites"}), "suites")
# Benchmarks with a module-level markdown(result) that renders their own section.
SECTIONED = {"fit": fit, "serving": serving, "scoring": scoring, "drift": drift, "scale": scale}
SECTIONED_LAST = {"suites": suites}
DOC = Path("docs/benchmarks.md")
SCRATCH = Path(".bench")


def _say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def existing_document(output: Path) -> str | None:
    """The document a run will update, checked before any benchmark runs.

    A file without section markers (an older format) is only replaced under .bench/.
    """
    existing = output.read_text(encoding="utf-8") if output.exists() else None
    if existing is not None and not document.split(existing):
        if SCRATCH.resolve() not in output.resolve().parents:
            raise document.MalformedDocument(
                f"{output} has no bench:begin/bench:end section markers; move it away first"
            )
        _say(f"{output} has no section markers: it will be replaced")
        existing = None
    return existing


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="reduced sizes, for a fast check")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    parser.add_argument(
        "--output",
        type=Path,
        help="the Markdown document to update (default docs/benchmarks.md, or "
        ".bench/benchmarks.md for a reduced run)",
    )
    parser.add_argument(
        "--sizes",
        default=os.environ.get("TABPIPE_BENCH_SIZES"),
        help="row counts for the scale benchmark, e.g. 10k,100k (default 10k,100k,1M,10M; "
        "with --quick 10k; env TABPIPE_BENCH_SIZES)",
    )
    parser.add_argument(
        "--suites",
        nargs="+",
        choices=list(suites.SUITES),
        default=list(suites.DEFAULT),
        metavar="SUITE",
        help=f"the test suites the suites benchmark runs, of {', '.join(suites.SUITES)} "
        f"(default those with a time goal: {', '.join(suites.DEFAULT)})",
    )
    args = parser.parse_args(argv)
    root = Path.cwd()
    if not (root / "dvc.yaml").exists() or not (root / "benchmarks").is_dir():
        parser.error("run from the repository root (make bench)")
    raw = root / load_params(root / "params.yaml").data.raw
    if not raw.exists():
        parser.error(f"{raw} is missing: run `make data` (dvc pull data.dvc) first")
    settings = report.QUICK if args.quick else report.FULL
    selected = set(args.only or BENCHMARKS)
    if args.quick:
        selected.discard("startup")
        if not args.only:
            selected.discard("suites")  # the test suites take as long quick or not
    try:
        sizes = scale.parse_sizes(args.sizes or ("10k" if args.quick else "10k,100k,1M,10M"))
    except ValueError as exc:
        parser.error(f"--sizes: {exc}")
    reduced = args.quick or ("scale" in selected and sizes != scale.SIZES)
    output = args.output or (SCRATCH / "benchmarks.md" if reduced else DOC)
    try:
        existing = existing_document(output)
    except document.MalformedDocument as exc:
        parser.error(str(exc))
    given = list(sys.argv[1:] if argv is None else argv)
    command = " ".join(["python -m benchmarks.run", *given]) if given else "make bench"

    started = time.perf_counter()
    info = machine.describe(root)
    measured_parts: dict[str, Any] = {}  # benchmark name -> its result
    loads: dict[str, float] = {}  # 1-minute load average as each benchmark starts
    provenance: dict[str, document.Provenance] = {}

    def write() -> report.Results:
        """Update the document and the raw dump with every part measured so far.

        Called after each benchmark, so a failure late in a long run keeps what came before.
        """
        results = report.Results(
            machine.finished(info),
            settings,
            command,
            time.perf_counter() - started,
            repro=measured_parts.get("repro"),
            startup=measured_parts.get("startup"),
            validation=measured_parts.get("validation"),
            latency=measured_parts.get("latency"),
            loads={**loads, "end": os.getloadavg()[0]},
        )
        bodies = report.sections(results)
        raw_results: dict[str, Any] = asdict(results)
        for name, module in {**SECTIONED, **SECTIONED_LAST}.items():
            if name in measured_parts:
                bodies[name] = module.markdown(measured_parts[name])
                raw_results[name] = asdict(measured_parts[name])
        provenance["machine"] = document.Provenance(
            command,
            info.date,
            info.git_commit,
            info.git_dirty,
            info.load_before[0],
            info.usable_cpus,
            results.total_seconds / 60,
            args.quick,
        )
        produced = {
            name: document.section(name, body, provenance[name]) for name, body in bodies.items()
        }
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(document.merge(existing, produced), encoding="utf-8")
        SCRATCH.mkdir(exist_ok=True)
        raw_results["provenance"] = {name: asdict(p) for name, p in provenance.items()}
        dump = SCRATCH / "benchmarks.json"
        dump.write_text(json.dumps(raw_results, indent=2, default=str) + "\n", encoding="utf-8")
        _say(f"updated {output} ({', '.join(produced)}) and wrote {dump}")
        return results

    def measure(name: str, message: str, work: Callable[[], Any]) -> None:
        """Run one benchmark, recording its load, start date and wall time, then write."""
        load = os.getloadavg()[0]
        loads[name] = load
        date = _now()
        _say(f"{message} (1-minute load {load:.2f})")
        began = time.perf_counter()
        measured_parts[name] = work()
        minutes = (time.perf_counter() - began) / 60
        provenance[name] = document.Provenance(
            command,
            date,
            info.git_commit,
            info.git_dirty,
            load,
            info.usable_cpus,
            minutes,
            args.quick,
        )
        _say(f"{name} done in {minutes:.1f} min")
        write()

    if "repro" in selected:
        measure(
            "repro",
            f"dvc repro timings in temporary clones ({settings.repro_repeats} repetitions)",
            lambda: repro.run(
                root, repeats=settings.repro_repeats, large_rows=settings.repro_large_rows
            ),
        )
    if "startup" in selected and settings.startup_repeats:
        measure(
            "startup",
            "process start-up (imports) as is and with cached bytecode",
            lambda: startup.run(root, repeats=settings.startup_repeats),
        )
    if "validation" in selected:
        measure(
            "validation",
            f"validation throughput on {settings.validation_rows:,} rows",
            lambda: validation.run(
                root, rows=settings.validation_rows, repeats=settings.validation_repeats
            ),
        )
    if "latency" in selected:
        measure(
            "latency",
            "prediction latency, onnxruntime vs scikit-learn",
            lambda: latency.run(
                root,
                single_calls=settings.single_calls,
                batch_rows=settings.batch_rows,
                batch_calls=settings.batch_calls,
                warmup=settings.warmup,
            ),
        )
    if "fit" in selected:
        measure(
            "fit",
            "the default family's fit alone and beside a busy process",
            lambda: fit.run(root, repeats=settings.fit_repeats),
        )
    if "serving" in selected:
        serving_settings = serving.QUICK if args.quick else serving.Settings()
        measure(
            "serving",
            "serving on loopback, onnxruntime vs scikit-learn: sequential, "
            f"{serving_settings.users} concurrent users, in process, profiled",
            lambda: serving.run(root, settings=serving_settings),
        )
    if "scoring" in selected:
        measure(
            "scoring",
            f"tabpipe predict vs scikit-learn on {settings.scoring_rows:,} rows",
            lambda: scoring.run(root, rows=settings.scoring_rows),
        )
    if "drift" in selected:
        measure(
            "drift",
            f"drift check on a {settings.drift_rows:,}-row batch",
            lambda: drift.run(root, rows=settings.drift_rows, repeats=settings.drift_repeats),
        )
    if "scale" in selected:
        measure(
            "scale",
            f"scale: the stages on {', '.join(scale.label(n) for n in sizes)} synthetic rows",
            lambda: scale.run(root, sizes=sizes),
        )
    if "suites" in selected:
        measure(
            "suites",
            f"the test suites in a fresh clone: {', '.join(args.suites)}",
            lambda: suites.run(root, suites=tuple(args.suites)),
        )
    results = write()
    _say(f"done in {results.total_seconds / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
