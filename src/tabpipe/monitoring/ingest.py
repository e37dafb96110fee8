"""Ingest a new batch of labelled rows as a new version of the DVC-tracked training data.

``tabpipe ingest BATCH`` checks the batch against the data contract (every column rule;
the label is required), appends its rows to ``data.raw`` and checks the whole new table
again (row floor, null shares). It then records the new version with ``dvc add``, pushes
it to the project's DVC remote, and prints the git commands that commit the new pointer
(``--commit`` runs them). ``git push`` of that commit starts the training workflow, which
retrains on the new data.

Refused, with the validation summary and a non-zero exit, and leaving ``data/`` and the
``.dvc`` pointer byte for byte as they were: a batch that breaks the contract, a table
that would break it, a batch whose every row is already in the table (ingested twice?
``--allow-duplicates`` to insist), and a workspace whose data differs from its pointer.

Rows are appended, not deduplicated: tabular rows without an ID may repeat legitimately
(the bundled data has two identical rows), so duplicates are only counted and reported.
A CSV table is appended to byte for byte (existing rows are not rewritten); a Parquet
table is rewritten with the new rows at the end.

Push: to the default DVC remote. With the template's in-repository remote (``bundled``,
``.dvc/storage``) the new version is pushed there only if the current one is there too,
i.e. the project publishes its data in git; the storage folder is then part of the
commit. Private data is never pushed into git unasked.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tabpipe.core.config import ConfigError, Params, load_params
from tabpipe.core.contract import (
    ContractError,
    ValidationReport,
    check,
    duplicate_rows,
    load_contract,
)
from tabpipe.core.dvcfiles import file_md5, pointer_md5
from tabpipe.core.io import InputError, read_table
from tabpipe.core.paths import BUNDLED_STORAGE, PARAMS_FILE
from tabpipe.monitoring.batch import Batch, check_batch

BUNDLED_REMOTE = "bundled"


class Refused(Exception):
    """The batch is not ingested; the message says why and nothing was changed."""

    def __init__(self, message: str, report: ValidationReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class Ingested:
    batch: Path
    table: Path
    pointer: Path
    rows_before: int
    rows_added: int
    duplicates: int
    md5_before: str
    md5_after: str = ""
    git_paths: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def commit_message(self) -> str:
        return (
            f"Ingest {self.batch.name}: +{self.rows_added} rows into {self.table} "
            f"(data {self.md5_before[:8]} -> {self.md5_after[:8]})"
        )


# --- where the data is tracked ------------------------------------------------------------


def tracking_pointer(table: Path) -> tuple[Path, Path]:
    """The ``.dvc`` file that tracks ``table`` (itself or a folder above it), and its target."""
    for candidate in (table, *table.parents):
        if str(candidate) in {".", ""}:
            break
        pointer = candidate.with_name(candidate.name + ".dvc")
        if pointer.is_file():
            return pointer, candidate
    raise ConfigError(
        f"{table} is not tracked by DVC (no {table}.dvc or .dvc file for a folder above it); "
        "track it with `dvc add` first"
    )


# --- the new table ------------------------------------------------------------------------


def combined_table(
    existing: pd.DataFrame, batch: Batch, params: Params, *, allow_duplicates: bool
) -> tuple[pd.DataFrame, int]:
    """The batch's rows in the table's column order, after checking the whole new table.

    Returns the rows to append and how many of them repeat a row already there (or each
    other). Raises Refused if the new table would break the contract or adds nothing new.
    """
    assert batch.frame is not None
    missing = [c for c in existing.columns if c not in batch.frame.columns]
    if missing:
        raise Refused(f"{batch.path} lacks columns the table has: {missing}")
    rows = batch.frame[list(existing.columns)]
    table = pd.concat([existing, rows], ignore_index=True)
    repeated = duplicate_rows(table).iloc[len(existing) :]
    duplicates = int(repeated.sum())
    if duplicates == len(rows) and not allow_duplicates:
        raise Refused(
            f"every row of {batch.path} ({len(rows)}) is already in {params.data.raw}: was it "
            "ingested before? (--allow-duplicates to append it anyway)"
        )
    schema = load_contract(params.data.contract)
    report, valid = check(
        table,
        schema,
        source=f"{params.data.raw} + {batch.path}",
        contract=str(params.data.contract),
    )
    if valid is None:
        raise Refused("the table with this batch appended would break the data contract", report)
    return rows, duplicates


def write_appended(table: Path, existing: pd.DataFrame, rows: pd.DataFrame, out: Path) -> None:
    """Write the table plus ``rows`` to ``out``: CSV by appending bytes, Parquet by rewriting."""
    if table.suffix.lower() == ".csv":
        original = table.read_bytes()
        newline = "\r\n" if original.endswith(b"\r\n") else "\n"
        separator = b"" if not original or original.endswith(b"\n") else newline.encode()
        appended = rows.to_csv(index=False, header=False, lineterminator=newline)
        out.write_bytes(original + separator + appended.encode("utf-8"))
    else:
        pd.concat([existing, rows], ignore_index=True).to_parquet(out, index=False)


# --- dvc and git --------------------------------------------------------------------------


def _run(cmd: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    print("+ " + " ".join(cmd), flush=True)
    done = subprocess.run(list(cmd), capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, cmd, done.stdout, done.stderr)
    return done


def workspace_matches_pointer(pointer: Path) -> bool:
    done = _run(["dvc", "status", "--json", str(pointer)], check=False)
    return done.returncode == 0 and done.stdout.strip() in {"", "{}"}


def default_remote() -> str:
    done = _run(["dvc", "remote", "default"], check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def bundled_has(md5: str) -> bool:
    """Whether the in-repository remote holds this version (the project publishes its data)."""
    digest = md5.removesuffix(".dir")
    suffix = ".dir" if md5.endswith(".dir") else ""
    return (BUNDLED_STORAGE / "files" / "md5" / digest[:2] / (digest[2:] + suffix)).exists()


def push(result: Ingested, *, enabled: bool) -> bool:
    """Push the new version where the project keeps its data; False if a push failed."""
    if not enabled:
        result.notes.append("not pushed (--no-push): run `dvc push` before sharing the commit")
        return True
    remote = default_remote()
    if not remote:
        result.notes.append("no default DVC remote: not pushed (`dvc remote add -d ...`)")
        return True
    if remote == BUNDLED_REMOTE and not bundled_has(result.md5_before):
        result.notes.append(
            f"not pushed: the default remote is the in-repository '{BUNDLED_REMOTE}' "
            f"({BUNDLED_STORAGE}) and your current data is not published there; set a "
            "remote (`dvc remote add -d storage s3://...`) and `dvc push`"
        )
        return True
    done = _run(["dvc", "push", "--remote", remote, str(result.pointer)], check=False)
    if done.returncode != 0:
        result.notes.append(
            f"dvc push to '{remote}' FAILED: {done.stderr.strip()[-300:]}; the data is ingested "
            f"locally; retry with `dvc push --remote {remote} {result.pointer}`"
        )
        return False
    if remote == BUNDLED_REMOTE:
        result.git_paths.append(str(BUNDLED_STORAGE))
        result.notes.append(
            f"pushed into the in-repository remote {BUNDLED_STORAGE} (committed with git, "
            "like the bundled demo data)"
        )
    else:
        result.notes.append(f"pushed the new version to DVC remote '{remote}'")
    return True


def record(table: Path, pointer: Path, target: Path, staged: Path) -> None:
    """Swap ``staged`` into place and ``dvc add`` it; on any failure put everything back."""
    pointer_before = pointer.read_bytes()
    fd, backup_name = tempfile.mkstemp(prefix=f".{table.name}.before-ingest.", dir=staged.parent)
    os.close(fd)
    backup = Path(backup_name)
    os.replace(table, backup)
    try:
        os.replace(staged, table)
        _run(["dvc", "add", "--quiet", str(target)])
    except BaseException:
        os.replace(backup, table)
        pointer.write_bytes(pointer_before)
        raise
    backup.unlink()


def ingest(batch_path: Path, params: Params, *, allow_duplicates: bool = False) -> Ingested:
    """Check, append and record the batch; raises Refused (nothing changed) if it must not."""
    table = params.data.raw
    pointer, target = tracking_pointer(table)
    if batch_path.resolve().is_relative_to(target.resolve()):
        raise Refused(f"{batch_path} is inside {target}, which DVC tracks: put batches elsewhere")
    if not table.exists():
        raise Refused(f"{table} is not in the workspace: run `make data` (dvc pull) first")
    batch = check_batch(batch_path, params, require_label=True)
    if not batch.ok:
        raise Refused(f"{batch_path} breaks the data contract", batch.report)
    if not workspace_matches_pointer(pointer):
        raise Refused(
            f"{target} differs from {pointer}: record or undo those changes first "
            f"(`dvc add {target}` or `dvc checkout {pointer}`)"
        )
    existing = read_table(table)
    rows, duplicates = combined_table(existing, batch, params, allow_duplicates=allow_duplicates)
    result = Ingested(
        batch_path,
        table,
        pointer,
        len(existing),
        len(rows),
        duplicates,
        pointer_md5(pointer) or "unknown",
    )
    fd, staged_name = tempfile.mkstemp(
        prefix=f".{table.name}.ingest.", suffix=table.suffix, dir=target.resolve().parent
    )
    os.close(fd)
    staged = Path(staged_name)
    try:
        write_appended(table, existing, rows, staged)
        record(table, pointer, target, staged)
    finally:
        staged.unlink(missing_ok=True)
    result.md5_after = pointer_md5(pointer) or "unknown"
    result.git_paths.insert(0, str(pointer))
    return result


def commit(result: Ingested) -> None:
    _run(["git", "add", "--", *result.git_paths])
    _run(["git", "commit", "--quiet", "-m", result.commit_message(), "--", *result.git_paths])


def _digest(path: Path) -> str:
    return file_md5(path)[:8]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tabpipe ingest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("batch", type=Path, help="new labelled rows (CSV or Parquet)")
    parser.add_argument("--commit", action="store_true", help="also git-commit the new version")
    parser.add_argument("--no-push", action="store_true", help="do not dvc push")
    parser.add_argument(
        "--allow-duplicates", action="store_true", help="append even if every row is known"
    )
    parser.add_argument("--params", type=Path, default=PARAMS_FILE)
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        result = ingest(args.batch, params, allow_duplicates=args.allow_duplicates)
    except Refused as exc:
        if exc.report is not None:
            print(exc.report.summary(), file=sys.stderr)
        print(f"[ingest] REFUSED: {exc}. Nothing was changed.", file=sys.stderr)
        return 1
    except (ConfigError, ContractError, InputError) as exc:
        print(f"[ingest] ERROR: {exc}. Nothing was changed.", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(
            f"[ingest] ERROR: {' '.join(exc.cmd)} failed: {(exc.stderr or '').strip()[-500:]}. "
            "The data and its pointer were put back as they were.",
            file=sys.stderr,
        )
        return 1
    print(
        f"[ingest] {result.batch} ({_digest(result.batch)}): +{result.rows_added} rows "
        f"({result.duplicates} repeat existing rows) -> {result.table}: "
        f"{result.rows_before} -> {result.rows_before + result.rows_added} rows; "
        f"{result.pointer} {result.md5_before[:8]} -> {result.md5_after[:8]}"
    )
    pushed = push(result, enabled=not args.no_push)
    for note in result.notes:
        print(f"[ingest] {note}")
    if args.commit:
        commit(result)
        print(f"[ingest] committed: {result.commit_message()}")
        print("[ingest] next: git push (the training workflow retrains on the new data)")
    else:
        print("[ingest] to record it in git (then git push; the training workflow retrains):")
        print(f"  git add {' '.join(result.git_paths)}")
        print(f'  git commit -m "{result.commit_message()}" -- {" ".join(result.git_paths)}')
    print("[ingest] to retrain here: make run")
    return 0 if pushed else 1


if __name__ == "__main__":
    sys.exit(main())
