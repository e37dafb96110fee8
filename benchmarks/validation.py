"""Validation throughput: the pandera contract (``tabpipe.core.contract.check``) vs plain pandas.

The bundled data is scaled up with synthetic rows (:mod:`benchmarks.synthetic`). Before anything is
timed, both implementations must agree: both pass the clean frame and return equal coerced
frames, and both report the same (column, check, failing rows) on corrupted copies. Each
engine is then timed in its own subprocess, so peak memory is that engine's alone: the
kernel's peak-RSS mark is reset just before one validation call and read just after it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from benchmarks.pandas_contract import ColumnRule, Finding, Rules, in_order, load_rules, validate
from benchmarks.synthetic import chunks, contract_bounds, copied_columns
from benchmarks.timing import Spread
from tabpipe.core.config import load_params
from tabpipe.core.contract import STRUCTURAL, ValidationReport, check, load_contract
from tabpipe.core.io import read_table

ENGINES = ("pandera", "pandas")


class Disagreement(AssertionError):
    """pandera and the pandas baseline judged the same frame differently."""


@dataclass(frozen=True)
class AgreementCase:
    name: str
    rows: int
    findings: list[Finding]  # identical for both engines, or Disagreement is raised


@dataclass(frozen=True)
class EngineResult:
    engine: str
    rows: int
    seconds: Spread
    peak_extra_mib: float  # peak RSS during one validation call above the RSS just before it
    rss_before_mib: float
    memory_method: str

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds.median

    @property
    def best_rows_per_second(self) -> float:
        return self.rows / self.seconds.min


@dataclass(frozen=True)
class ValidationResult:
    rows: int
    source_rows: int
    seed: int
    frame_mib: float
    agreement: list[AgreementCase]
    engines: dict[str, EngineResult]


def bench_frame(root: Path, rows: int, seed: int) -> tuple[pd.DataFrame, int]:
    """``rows`` synthetic rows like the raw data, as the validate stage would read them.

    :mod:`benchmarks.synthetic`'s rows (resampled, numbers jittered within the contract's
    bounds, categories and the label copied): plain resampling would repeat rows exactly,
    which the contract's ``max_duplicate_fraction`` refuses.
    """
    params = load_params(root / "params.yaml")
    source = read_table(root / params.data.raw)
    bounds = contract_bounds(root / params.data.contract)
    keep = copied_columns(params.data.target, root / params.data.contract)
    parts = chunks(source, rows, bounds=bounds, seed=seed, keep=keep)
    return pd.concat(list(parts), ignore_index=True), len(source)


def contract_path(root: Path) -> Path:
    return root / load_params(root / "params.yaml").data.contract


@dataclass(frozen=True)
class Corruption:
    name: str
    frame: pd.DataFrame
    expected: frozenset[tuple[str | None, str]]  # (column, check) both engines must report


def targets(schema: pa.DataFrameSchema) -> Rules:
    """The contract as pandera loaded it, in the baseline's terms: what to corrupt.

    Read from pandera's schema object, not from the baseline's own YAML reader, so that a
    rule the baseline fails to read is still corrupted, and the disagreement shows.
    """
    columns = []
    for name, column in schema.columns.items():
        checks = {check.name: check.statistics for check in column.checks}
        bounds = checks.get("in_range")
        null_fraction = checks.get("max_null_fraction")
        columns.append(
            ColumnRule(
                name=str(name),
                dtype="float64" if str(column.dtype).startswith("float") else "str",
                nullable=bool(column.nullable),
                isin=tuple(checks["isin"]["allowed_values"]) if "isin" in checks else None,
                in_range=None
                if bounds is None
                else (float(bounds["min_value"]), float(bounds["max_value"]), True, True),
                max_null_fraction=None
                if null_fraction is None
                else float(null_fraction["max_fraction"]),
            )
        )
    table = {check.name: check.statistics for check in schema.checks}
    min_rows = table.get("min_rows", {}).get("min_value")
    duplicates = table.get("max_duplicate_fraction", {}).get("max_fraction")
    return Rules(
        tuple(columns),
        bool(schema.strict),
        None if min_rows is None else int(min_rows),
        None if duplicates is None else float(duplicates),
    )


def corruptions(frame: pd.DataFrame, schema: pa.DataFrameSchema, seed: int) -> list[Corruption]:
    """Copies of ``frame`` that break each kind of rule the contract has, one column each.

    Columns are picked from the contract, not named, so this holds for any onboarded dataset.
    """
    rules = targets(schema)
    rng = np.random.default_rng(seed)
    bad, expected = frame.copy(), set()
    unused = [rule for rule in rules.columns if rule.name in frame]

    def take(wanted: Callable[[ColumnRule], bool]) -> ColumnRule | None:
        rule = next((r for r in unused if wanted(r)), None)
        if rule is not None:
            unused.remove(rule)
        return rule

    def rows(k: int) -> pd.Index:
        return bad.index[rng.choice(len(bad), size=min(k, len(bad)), replace=False)]

    if rule := take(lambda r: r.in_range is not None):
        assert rule.in_range is not None
        low, high = rule.in_range[:2]
        bad[rule.name] = bad[rule.name].astype(np.float64)
        bad.loc[rows(3), rule.name] = high + 1 if np.isfinite(high) else low - 1
        expected.add((rule.name, "in_range"))
    if rule := take(lambda r: r.isin is not None):
        bad[rule.name] = bad[rule.name].astype(object)  # the rule may be on an integer label
        bad.loc[rows(2), rule.name] = "__not_in_the_contract__"
        expected.add((rule.name, "isin"))
    if rule := take(lambda r: not r.nullable and r.dtype == "float64"):
        bad[rule.name] = bad[rule.name].astype(np.float64)
        bad.loc[rows(1), rule.name] = np.nan
        expected.add((rule.name, "not_nullable"))
    if rule := take(lambda r: r.nullable and r.max_null_fraction is not None):
        assert rule.max_null_fraction is not None
        if rule.dtype == "float64":
            bad[rule.name] = bad[rule.name].astype(np.float64)
        share = min(1.0, rule.max_null_fraction + 0.1)
        bad.loc[bad.index[: int(np.ceil(len(bad) * share))], rule.name] = np.nan
        expected.add((rule.name, "max_null_fraction"))
    if rule := take(lambda r: r.dtype == "float64"):
        bad[rule.name] = bad[rule.name].astype(object)
        bad.loc[rows(2), rule.name] = "n/a"
        expected.add((rule.name, "coerce_dtype"))
    if rule := take(lambda r: True):
        bad = bad.drop(columns=[rule.name])
        expected.add((rule.name, "missing column"))
    if rules.strict:
        bad["__extra__"] = 1
        expected.add(("__extra__", "unexpected column"))
    cases = [Corruption("mixed corruptions", bad, frozenset(expected))]
    if rules.min_rows:
        few = frame.head(rules.min_rows - 1)
        cases.append(Corruption("too few rows", few, frozenset({(None, "min_rows")})))
    if rules.max_duplicate_fraction is not None and rules.max_duplicate_fraction < 0.5:
        twice = pd.concat([frame, frame], ignore_index=True)  # a file appended to itself
        expected_twice = frozenset({(None, "max_duplicate_fraction")})
        cases.append(Corruption("the table twice", twice, expected_twice))
    return cases


def report_findings(report: ValidationReport) -> list[Finding]:
    """tabpipe's failures in the baseline's terms: check names without their arguments."""
    return in_order(
        Finding(f.column, f.check if f.check in STRUCTURAL else f.check.split("(")[0], f.count)
        for f in report.failures
    )


def compare(
    name: str, frame: pd.DataFrame, schema: pa.DataFrameSchema, rules: Rules
) -> AgreementCase:
    report, pandera_frame = check(frame, schema, source=name, contract="contract")
    findings, pandas_frame = validate(frame, rules)
    pandera_findings, pandas_findings = report_findings(report), in_order(findings)
    if pandera_findings != pandas_findings:
        raise Disagreement(f"{name}: pandera {pandera_findings} != pandas {pandas_findings}")
    if pandera_frame is not None and pandas_frame is not None:
        try:
            pd.testing.assert_frame_equal(pandera_frame, pandas_frame)
        except AssertionError as exc:
            raise Disagreement(f"{name}: the coerced frames differ: {exc}") from exc
    return AgreementCase(name, len(frame), pandas_findings)


def check_agreement(
    frame: pd.DataFrame, schema: pa.DataFrameSchema, rules: Rules, seed: int
) -> list[AgreementCase]:
    cases = [compare("clean", frame, schema, rules)]
    if cases[0].findings:
        raise Disagreement(f"the clean frame fails the contract: {cases[0].findings}")
    for corruption in corruptions(frame, schema, seed):
        case = compare(corruption.name, corruption.frame, schema, rules)
        missed = corruption.expected - {(f.column, f.check) for f in case.findings}
        if missed:
            raise Disagreement(
                f"{corruption.name}: neither engine reported {sorted(missed, key=str)}"
            )
        cases.append(case)
    return cases


def validator(engine: str, contract: Path) -> Callable[[pd.DataFrame], bool]:
    """A one-argument validation call for ``engine``; the contract is loaded once, untimed."""
    if engine == "pandera":
        schema = load_contract(contract)
        return lambda frame: check(frame, schema, source="bench", contract=str(contract))[0].ok
    if engine == "pandas":
        rules = load_rules(contract)
        return lambda frame: not validate(frame, rules)[0]
    raise ValueError(f"unknown engine {engine!r}; choose one of {ENGINES}")


def _status_kib(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


def peak_memory(call: Callable[[], object]) -> tuple[float, float, str]:
    """Run ``call`` once; return (RSS before, peak RSS above it, both MiB) and the method."""
    gc.collect()
    exact = _reset_peak_rss()
    before = _status_kib("VmRSS") if exact else None
    if before is None:
        exact = False
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    call()
    peak = _status_kib("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    method = "VmHWM reset via /proc/self/clear_refs" if exact else "ru_maxrss (a lower bound)"
    return before / 1024, max(0, (peak or 0) - before) / 1024, method


def measure_engine(engine: str, frame: pd.DataFrame, contract: Path, repeats: int) -> EngineResult:
    """Peak memory of one (warm-up) call, then ``repeats`` timed calls."""
    run = validator(engine, contract)
    verdicts = []
    rss_before, peak_extra, method = peak_memory(lambda: verdicts.append(run(frame)))
    seconds = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        verdicts.append(run(frame))
        seconds.append(time.perf_counter() - started)
    if not all(verdicts):
        raise Disagreement(f"{engine}: the clean frame failed the contract")
    return EngineResult(engine, len(frame), Spread(tuple(seconds)), peak_extra, rss_before, method)


def _measure_in_subprocess(
    root: Path, engine: str, rows: int, seed: int, repeats: int
) -> EngineResult:
    command = [sys.executable, "-m", "benchmarks.validation", "--engine", engine]
    command += ["--rows", str(rows), "--seed", str(seed), "--repeats", str(repeats)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    raw["seconds"] = Spread(tuple(raw["seconds"]["values"]))
    return EngineResult(**raw)


def run(root: Path, *, rows: int, repeats: int, seed: int = 0) -> ValidationResult:
    frame, source_rows = bench_frame(root, rows, seed)
    contract = contract_path(root)
    agreement = check_agreement(frame, load_contract(contract), load_rules(contract), seed)
    frame_mib = float(frame.memory_usage(deep=True).sum()) / 2**20
    del frame
    gc.collect()
    engines = {e: _measure_in_subprocess(root, e, rows, seed, repeats) for e in ENGINES}
    return ValidationResult(rows, source_rows, seed, frame_mib, agreement, engines)


def _worker(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time one validation engine (used by run()).")
    parser.add_argument("--engine", choices=ENGINES, required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    root = Path.cwd()
    frame, _ = bench_frame(root, args.rows, args.seed)
    result = measure_engine(args.engine, frame, contract_path(root), args.repeats)
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(_worker())
