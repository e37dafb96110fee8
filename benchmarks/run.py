"""``make bench``: run the benchmarks and write ``docs/benchmarks.md``.

A full run writes docs/benchmarks.md. A quick run or a partial one (``--only``) writes to
the git-ignored .bench/ unless --output says otherwise, so that reduced figures never
replace the committed ones by accident. The raw numbers go to .bench/benchmarks.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

from benchmarks import latency, machine, report, repro, scale, startup, validation
from tabpipe.config import load_params

BENCHMARKS = ("repro", "startup", "validation", "latency", "scale")
DOC = Path("docs/benchmarks.md")
SCRATCH = Path(".bench")


def _say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="reduced sizes, for a fast check")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--output", type=Path, help="where to write the Markdown report")
    parser.add_argument(
        "--sizes",
        default=os.environ.get("TABPIPE_BENCH_SIZES"),
        help="row counts for the scale benchmark, e.g. 10k,100k (default 10k,100k,1M,10M; "
        "with --quick 10k; env TABPIPE_BENCH_SIZES)",
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
    try:
        sizes = scale.parse_sizes(args.sizes or ("10k" if args.quick else "10k,100k,1M,10M"))
    except ValueError as exc:
        parser.error(f"--sizes: {exc}")
    partial = args.quick or args.only is not None or args.sizes is not None
    output = args.output or (SCRATCH / "benchmarks.md" if partial else DOC)
    given = list(sys.argv[1:] if argv is None else argv)
    command = " ".join(["python -m benchmarks.run", *given]) if given else "make bench"

    started = time.perf_counter()
    info = machine.describe(root)
    results = report.Results(info, settings, command, 0.0)
    loads: dict[str, float] = {}  # 1-minute load average as each benchmark starts
    if "repro" in selected:
        loads["repro"] = os.getloadavg()[0]
        _say(f"dvc repro timings in temporary clones ({settings.repro_repeats} repetitions)")
        results = replace(results, repro=repro.run(root, repeats=settings.repro_repeats))
    if "startup" in selected and settings.startup_repeats:
        loads["start-up"] = os.getloadavg()[0]
        _say("process start-up (imports) as is and with cached bytecode")
        results = replace(results, startup=startup.run(root, repeats=settings.startup_repeats))
    if "validation" in selected:
        loads["validation"] = os.getloadavg()[0]
        _say(f"validation throughput on {settings.validation_rows:,} rows")
        results = replace(
            results,
            validation=validation.run(
                root, rows=settings.validation_rows, repeats=settings.validation_repeats
            ),
        )
    if "latency" in selected:
        loads["latency"] = os.getloadavg()[0]
        _say("prediction latency, onnxruntime vs scikit-learn")
        results = replace(
            results,
            latency=latency.run(
                root,
                single_calls=settings.single_calls,
                batch_rows=settings.batch_rows,
                batch_calls=settings.batch_calls,
                warmup=settings.warmup,
            ),
        )
    scaled = None
    if "scale" in selected:
        loads["scale"] = os.getloadavg()[0]
        _say(f"scale: the stages on {', '.join(scale.label(n) for n in sizes)} synthetic rows")
        scaled = scale.run(root, sizes=sizes)
    loads["end"] = os.getloadavg()[0]
    results = replace(
        results,
        machine=machine.finished(info),
        total_seconds=time.perf_counter() - started,
        loads=loads,
    )

    output.parent.mkdir(parents=True, exist_ok=True)
    text = report.render(results) + ("" if scaled is None else "\n" + scale.markdown(scaled))
    output.write_text(text, encoding="utf-8")
    SCRATCH.mkdir(exist_ok=True)
    dump = SCRATCH / "benchmarks.json"
    raw_results = {**asdict(results), "scale": None if scaled is None else asdict(scaled)}
    dump.write_text(json.dumps(raw_results, indent=2, default=str) + "\n", encoding="utf-8")
    _say(f"wrote {output} and {dump} in {results.total_seconds / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
