"""Drift check time on a large incoming batch (default 1,000,000 rows).

The batch is simulated from the bundled data (``tabpipe simulate``: resampled rows with a
seeded jitter; once clean, once with numeric drift, or categorical drift on a table with no
continuous numeric feature) and written as Parquet. The reference
profile is built from the project's own training split, as the ``profile`` stage does.
Each repetition runs the whole check as ``tabpipe drift`` does (read the file, check it
against the contract, measure every feature) and times its phases separately, so the
report shows where the time goes. The drifted batch must be found drifted and the clean
one not, or nothing is reported.
"""

from __future__ import annotations

import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.timing import Spread
from tabpipe.core.config import Params, load_params
from tabpipe.core.contract import load_contract
from tabpipe.core.exit_status import ExitStatus
from tabpipe.core.io import read_table, write_json
from tabpipe.monitoring.batch import check_batch
from tabpipe.monitoring.drift import compare, load_profile
from tabpipe.monitoring.simulate import continuous_features, simulate, write_batch
from tabpipe.pipeline.profile import profile_frame
from tabpipe.pipeline.split import split_frame

KINDS = {"clean": ExitStatus.NONE, "drift-numeric": ExitStatus.DRIFT}
# A table with no continuous numeric feature (discrete numbers only) gets categorical drift.
INSTEAD = {"drift-numeric": "drift-categorical"}


@dataclass(frozen=True)
class KindResult:
    kind: str
    rows: int
    file_mib: float
    read_and_contract: Spread  # read the Parquet file and check it against the contract
    measure: Spread  # histograms and distances for every feature
    total: Spread
    drifted: list[str]

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.total.median


@dataclass(frozen=True)
class DriftBench:
    rows: int
    features: int
    repeats: int
    kinds: list[KindResult]
    peak_rss_mib: float
    thresholds_from: str


def default_thresholds(params: Params) -> dict[str, float]:
    """The template's values: 0.02 for numeric features, 0.1 for categorical ones."""
    thresholds = {name: 0.02 for name in params.features.numeric}
    return thresholds | {name: 0.1 for name in params.features.categorical}


def run(root: Path, rows: int = 1_000_000, repeats: int = 3) -> DriftBench:
    params = load_params(root / "params.yaml")
    contract_path = root / params.data.contract
    schema = load_contract(contract_path)
    raw = read_table(root / params.data.raw)
    params = params.model_copy(
        update={"data": params.data.model_copy(update={"contract": contract_path})}
    )
    train, _ = split_frame(
        schema.validate(raw),
        params.data.target,
        params.split,
        classification=params.data.task.is_classification,
    )
    drift = params.monitor.drift
    thresholds_from = "params.yaml"
    if not drift.thresholds:  # an onboarded project starts with none (TFDV: no default)
        thresholds_from = "the template's defaults (params.yaml sets none)"
        drift = drift.model_copy(update={"thresholds": default_thresholds(params)})
        monitor = params.monitor.model_copy(update={"drift": drift})
        params = params.model_copy(update={"monitor": monitor})
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as scratch:
        profile_path = Path(scratch) / "profile.json"
        write_json(
            profile_path,
            profile_frame(
                train, params.features, bins=drift.bins, histogram=drift.histogram, source="train"
            ),
        )
        profile = load_profile(profile_path, params)
        for kind, expected in KINDS.items():
            if kind in INSTEAD and not continuous_features(raw, params):
                kind = INSTEAD[kind]
            batch = simulate(raw, params, schema, kind=kind, rows=rows, seed=1, labelled=False)
            path = Path(scratch) / f"{kind}.parquet"
            write_batch(batch.frame, path)
            checked, measured, totals = [], [], []
            drifted: list[str] = []
            for _ in range(repeats):
                started = time.perf_counter()
                checked_batch = check_batch(path, params, require_label=False)
                middle = time.perf_counter()
                report = compare(checked_batch, profile, params, str(profile_path))
                ended = time.perf_counter()
                if report.status is not expected:
                    raise AssertionError(
                        f"{kind}: expected {expected.kind}, got {report.status.kind}:\n"
                        + report.summary()
                    )
                checked.append(middle - started)
                measured.append(ended - middle)
                totals.append(ended - started)
                drifted = report.drifted
            results.append(
                KindResult(
                    kind,
                    rows,
                    path.stat().st_size / 2**20,
                    Spread(tuple(checked)),
                    Spread(tuple(measured)),
                    Spread(tuple(totals)),
                    drifted,
                )
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return DriftBench(rows, len(params.features.all), repeats, results, peak, thresholds_from)


def markdown(result: DriftBench) -> str:
    """The section for docs/benchmarks.md."""
    lines = [
        "## Drift check on a large batch",
        "",
        f"`tabpipe drift` on {result.rows:,} incoming rows ({result.features} features, "
        f"Parquet), median of {result.repeats} runs. *read + contract* reads the file and "
        "checks it against the data contract (pandera, lazy); *measure* bins every feature "
        "with the training split's edges and computes the JS divergence / L∞ distance. "
        "*best total*: the fastest run; on a shared machine a run that waits for a CPU lifts "
        "the median, so compare the two. *rows/s* is at the median.",
        "",
        "| batch | file | read + contract | measure | total | best total | rows/s | fired on |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for k in result.kinds:
        fired = ", ".join(f"`{name}`" for name in k.drifted) or "nothing"
        lines.append(
            f"| {k.kind} | {k.file_mib:.1f} MiB | {k.read_and_contract.median:.2f} s "
            f"| {k.measure.median:.2f} s | {k.total.median:.2f} s | {k.total.min:.2f} s "
            f"| {k.rows_per_second:,.0f} | {fired} |"
        )
    lines += [
        "",
        f"Thresholds from {result.thresholds_from}. Peak memory of the benchmark process: "
        f"{result.peak_rss_mib:,.0f} MiB (it also holds the simulated batches).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(markdown(run(Path.cwd(), rows=size)))
