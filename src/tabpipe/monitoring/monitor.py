"""Monitoring: the drift check on the latest batch and the degradation check on feedback.

``tabpipe monitor`` is what the scheduled monitoring workflow runs. It checks the newest
file in ``monitor.incoming`` for schema skew and drift (``tabpipe drift``) and scores the
newest file in ``monitor.feedback`` with the champion (``tabpipe degradation``); either
can be named with ``--batch`` / ``--feedback``, and a missing one is skipped. It writes
both reports and ``summary.json`` (which triggers fired, whether to retrain) to ``--out``
and exits with one status for the workflow to branch on.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabpipe.ci.actions import append_summary, set_outputs
from tabpipe.core.config import ConfigError, Params, load_params
from tabpipe.core.contract import ContractError, ValidationReport
from tabpipe.core.exit_status import HELP, ExitStatus, combine
from tabpipe.core.io import SUPPORTED_SUFFIXES, InputError, write_json
from tabpipe.core.paths import MONITORING_DIR, PARAMS_FILE, PATHS
from tabpipe.monitoring import degradation, drift

DEFAULT_OUT = MONITORING_DIR
SUMMARY = "summary.json"


def newest(folder: Path) -> Path | None:
    """The last table file in ``folder`` by name (date-stamped names sort in time order)."""
    if not folder.is_dir():
        return None
    tables = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
    )
    return tables[-1] if tables else None


def resolve(given: str | None, folder: Path) -> Path | None:
    """An explicit path wins (an empty string means 'the newest in the folder')."""
    return Path(given) if given else newest(folder)


@dataclass
class Outcome:
    """What one check found: its status, its report files, or the error that stopped it."""

    check: str
    source: str
    status: ExitStatus
    reports: dict[str, str] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)  # drifted features / degraded metrics
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "source": self.source,
            "status": int(self.status),
            "trigger": self.status.kind,
            "findings": self.findings,
            "reports": self.reports,
            "error": self.error,
        }


def broken_columns(validation: ValidationReport) -> list[str]:
    return sorted({failure.column or "(table)" for failure in validation.failures})


def run_drift(batch: Path, params: Params, profile: Path, out: Path) -> Outcome:
    try:
        report = drift.check_drift(batch, params, profile)
        json_path, md_path = drift.write_reports(report, out)
    except (ConfigError, ContractError, drift.DriftError, InputError) as exc:
        return Outcome("drift", str(batch), ExitStatus.ERROR, error=str(exc))
    print(report.summary(), flush=True)
    reports = {"json": str(json_path), "markdown": str(md_path)}
    found = broken_columns(report.validation) if report.schema_skew else report.drifted
    return Outcome("drift", str(batch), report.status, reports, found)


def run_degradation(feedback: Path, params: Params, model: Path, out: Path) -> Outcome:
    try:
        report = degradation.check_degradation(feedback, params, model)
        json_path, md_path = degradation.write_reports(report, out)
    except (ConfigError, ContractError, degradation.DegradationError, InputError) as exc:
        return Outcome("degradation", str(feedback), ExitStatus.ERROR, error=str(exc))
    print(report.summary(), flush=True)
    reports = {"json": str(json_path), "markdown": str(md_path)}
    found = broken_columns(report.validation) if report.schema_skew else report.degraded
    return Outcome("degradation", str(feedback), report.status, reports, found)


def summarize(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    status = combine(o.status for o in outcomes)
    fired = sorted(
        {o.status.kind for o in outcomes if o.status not in (ExitStatus.NONE, ExitStatus.ERROR)}
    )
    return {
        "exit_status": int(status),
        "trigger": status.kind,
        "triggers": fired,
        "retrain": status.retrain,
        "checks": [o.to_dict() for o in outcomes],
    }


def github_outputs(summary: Mapping[str, Any]) -> dict[str, str]:
    """The step outputs the workflow's jobs branch on."""
    return {
        "status": str(summary["exit_status"]),
        "trigger": str(summary["trigger"]),
        "triggers": ",".join(summary["triggers"]),
        "retrain": "true" if summary["retrain"] else "false",
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tabpipe monitor", description=__doc__, epilog=HELP)
    parser.add_argument(
        "--batch", help="new batch to check for drift (default: the newest in monitor.incoming)"
    )
    parser.add_argument(
        "--feedback", help="labelled rows to score (default: the newest in monitor.feedback)"
    )
    parser.add_argument("--model", type=Path, default=PATHS.onnx_model, help="the champion model")
    parser.add_argument("--profile", type=Path, default=PATHS.reference_profile)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder")
    parser.add_argument("--params", type=Path, default=PARAMS_FILE)
    parser.add_argument(
        "--plan",
        action="store_true",
        help="only print (and write to $GITHUB_OUTPUT) which batch and feedback would be checked",
    )
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
    except ConfigError as exc:
        print(f"[monitor] ERROR: {exc}", file=sys.stderr)
        return int(ExitStatus.ERROR)
    batch = resolve(args.batch, params.monitor.incoming)
    feedback = resolve(args.feedback, params.monitor.feedback)
    if args.plan:
        plan = {"batch": str(batch or ""), "feedback": str(feedback or "")}
        print("".join(f"{key}={value}\n" for key, value in plan.items()), end="")
        set_outputs(plan)
        return 0
    outcomes = []
    if batch is None:
        print(f"[monitor] no batch in {params.monitor.incoming}/: drift not checked", flush=True)
    else:
        outcomes.append(run_drift(batch, params, args.profile, args.out))
    if feedback is None:
        print(f"[monitor] no feedback in {params.monitor.feedback}/: degradation not checked")
    else:
        outcomes.append(run_degradation(feedback, params, args.model, args.out))
    summary = summarize(outcomes)
    try:
        write_json(args.out / SUMMARY, summary)
    except InputError as exc:  # --out is a file, or not writable
        print(f"[monitor] ERROR: {exc}", file=sys.stderr)
        return int(ExitStatus.ERROR)
    for outcome in outcomes:
        if outcome.error:
            print(f"[monitor] ERROR in {outcome.check}: {outcome.error}", file=sys.stderr)
        elif "markdown" in outcome.reports:
            append_summary(Path(outcome.reports["markdown"]).read_text(encoding="utf-8"))
    set_outputs(github_outputs(summary))
    fired = ", ".join(summary["triggers"]) or "nothing"
    print(
        f"[monitor] fired: {fired}; exit status {summary['exit_status']} ({summary['trigger']}); "
        f"retrain: {'yes' if summary['retrain'] else 'no'}; summary: {args.out / SUMMARY}"
    )
    return int(summary["exit_status"])


if __name__ == "__main__":
    sys.exit(main())
