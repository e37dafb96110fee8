"""``tabpipe check``: check params.yaml and the data contract as files, before anything runs.

``dvc repro`` re-runs a stage only when something it depends on changed, so a stage's own
strict check does not run on a file nobody re-reads: a misspelled section in
``params.yaml`` (``trian:``) or a misspelled check in the contract (``in_rnage:``) would
pass ``make run`` unnoticed and switch a setting or a rule off. This check always runs
(``make run`` and ``make validate-data`` run it first, and so does the validate stage):

- ``params.yaml``: every section and key known, every value valid (the ``train`` section
  against the project's model families), each problem with its line;
- the data contract: every section, column key, check name and check setting known to
  pandera, each problem with its line;
- the two together: the columns params.yaml names are declared by the contract;
- no ``tabpipe ingest`` was interrupted half-way (its journal would say how to finish or
  undo it).

Exit status 0 when all hold, 1 otherwise (every problem listed, nothing written).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tabpipe.core.config import ConfigError, Params, load_params
from tabpipe.core.contract import ContractError, load_contract
from tabpipe.core.paths import INGEST_JOURNAL, PARAMS_FILE


def params_against_contract(params: Params, columns: Sequence[str]) -> None:
    """The target and features params.yaml names must be columns the contract declares."""
    wanted = [params.data.target, *params.features.all]
    unknown = [name for name in wanted if name not in columns]
    if unknown:
        raise ContractError(
            f"{PARAMS_FILE} names columns that {params.data.contract} does not declare: {unknown}"
        )
    groups = [name for name in params.split.group_by if name not in columns]
    if groups:
        raise ContractError(
            f"{PARAMS_FILE}: split.group_by names columns that {params.data.contract} does not "
            f"declare: {groups} (it declares {list(columns)})"
        )


def interrupted_ingest() -> str | None:
    """A message if an interrupted ``tabpipe ingest`` left its journal behind."""
    if not INGEST_JOURNAL.exists():
        return None
    return (
        f"{INGEST_JOURNAL}: a `tabpipe ingest` was interrupted before it finished; the data "
        "and its .dvc pointer may not match. Run `tabpipe ingest --status` to see what it "
        "found, then `tabpipe ingest --finish` or `tabpipe ingest --undo`"
    )


def problems(params_path: Path = PARAMS_FILE) -> list[str]:
    """Every problem with the project's params and contract files (empty: all good)."""
    found: list[str] = []
    journal = interrupted_ingest()
    if journal:
        found.append(journal)
    try:
        params = load_params(params_path)
    except ConfigError as exc:
        return [*found, str(exc)]
    try:
        schema = load_contract(params.data.contract)
        params_against_contract(params, list(schema.columns))
    except ContractError as exc:
        found.append(str(exc))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tabpipe check",
        description=(__doc__ or "").split("\n\n")[0],
        epilog="Exit status: 0 both files are valid, 1 a problem (each one listed).",
    )
    parser.add_argument("--params", type=Path, default=PARAMS_FILE, help="params file")
    args = parser.parse_args(argv)
    found = problems(args.params)
    for problem in found:
        print(f"[check] ERROR: {problem}", file=sys.stderr)
    if found:
        return 1
    print(f"[check] {args.params} and its data contract are valid files", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
