"""Stage ``validate``: check raw data against the contract; nothing downstream runs on failure."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tabpipe.core.check import interrupted_ingest, params_against_contract
from tabpipe.core.config import Params
from tabpipe.core.contract import ValidationReport, check, load_contract, unreadable
from tabpipe.core.io import InputError, read_table, write_json, write_text, write_with
from tabpipe.core.paths import PATHS
from tabpipe.core.stage import StageFailed, log, run_stage


def validate_raw(params: Params) -> ValidationReport:
    """Validate ``data.raw``; write the JSON report and Markdown summary either way."""
    source, contract_path = params.data.raw, params.data.contract
    journal = interrupted_ingest()
    if journal:
        raise StageFailed(journal)
    schema = load_contract(contract_path)
    params_against_contract(params, list(schema.columns))
    log("validate", f"reading {source}")
    try:
        frame = read_table(source)
    except InputError as exc:
        report, validated = unreadable(str(source), str(contract_path), str(exc)), None
    else:
        log("validate", f"checking {len(frame)} rows against {contract_path}")
        report, validated = check(
            frame, schema, source=str(source), contract=str(contract_path), inplace=True
        )
    write_json(PATHS.validation_report, report.to_dict())
    write_text(PATHS.validation_summary, report.markdown())
    if validated is not None:
        log("validate", f"writing {PATHS.validated}")
        write_with(PATHS.validated, lambda path: validated.to_parquet(path, index=False))
    return report


def _body(params: Params) -> None:
    report = validate_raw(params)
    print(report.summary(), flush=True)
    unreadable = [f for f in report.failures if f.check == "readable_table"]
    if unreadable:  # not data that breaks the contract: no table to check at all
        raise StageFailed(f"{unreadable[0].examples[0]} (details: {PATHS.validation_report})")
    if not report.ok:
        raise StageFailed(
            f"{params.data.raw} breaks the data contract (details: {PATHS.validation_report})"
        )


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage("validate", __doc__ or "", _body, argv)


if __name__ == "__main__":
    sys.exit(main())
