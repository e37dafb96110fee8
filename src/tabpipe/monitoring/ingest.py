"""Ingest a new batch of labelled rows as a new version of the DVC-tracked training data.

``tabpipe ingest BATCH`` checks the batch against the data contract (every column rule;
the label is required), appends its rows to ``data.raw`` and checks the whole new table
again (row floor, null shares). It then records the new version with ``dvc add``, pushes
it to the project's DVC remote, and prints the git commands that commit the new pointer
(``--commit`` runs them). ``git push`` of that commit starts the training workflow, which
retrains on the new data.

The new version is swapped in crash-safely (:mod:`tabpipe.monitoring.swap`): a kill at
any moment leaves a journal in ``.tabpipe/ingest/`` (git-ignored) from which
``tabpipe ingest --status`` says what it found, ``--finish`` completes the ingest and
``--undo`` puts the old table and pointer back; until then ``make run`` refuses to run.

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
import shutil
import subprocess
import sys
import time
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
from tabpipe.monitoring import swap
from tabpipe.monitoring.batch import Batch, check_batch

BUNDLED_REMOTE = "bundled"
ADDING_FAULT_DELAY_S = 1.5  # fault point "adding": how long dvc add runs before the kill


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


class ToolMissing(Exception):
    """dvc or git is not installed where ingest can find it."""


def executable(name: str) -> str:
    """``name`` on PATH, else beside this Python (``.venv/bin/tabpipe`` run without activating)."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if not found:
        raise ToolMissing(
            f"`{name}` is not installed or not on PATH; run through make (`make setup` installs "
            f"it into .venv/) or activate the environment: source .venv/bin/activate"
        )
    return found


def _run(cmd: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    print("+ " + " ".join(cmd), flush=True)
    done = subprocess.run(
        [executable(cmd[0]), *cmd[1:]], capture_output=True, text=True, check=False
    )
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


def ingest(batch_path: Path, params: Params, *, allow_duplicates: bool = False) -> Ingested:
    """Check, append and record the batch; raises Refused (nothing changed) if it must not."""
    pending = swap.Journal.load()
    if pending is not None:
        found = swap.inspect(pending, workspace_matches_pointer)
        raise Refused(f"{found.describe()}\n{found.advice()}, then ingest {batch_path} again")
    for leftover in swap.leftovers():
        print(f"[ingest] removing {leftover}: left by an ingest killed before it changed anything")
    if swap.leftovers():
        swap.clean_up()
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
    swap.swap_in(
        batch=batch_path,
        table=table,
        pointer=pointer,
        target=target,
        write_new=lambda staged: write_appended(table, existing, rows, staged),
        dvc_add=lambda: _add(target),
    )
    result.md5_after = pointer_md5(pointer) or "unknown"
    result.git_paths.insert(0, str(pointer))
    return result


def _add(target: Path) -> None:
    """``dvc add`` the new version.

    Fault point ``adding`` (tests): start ``dvc add``, then kill it and this process while it
    runs, as a cancelled job or a Ctrl-C to the whole process group would.
    """
    cmd = ["dvc", "add", "--quiet", str(target)]
    if os.environ.get(swap.FAULT_ENV) == "adding":
        child = subprocess.Popen([executable("dvc"), *cmd[1:]])
        time.sleep(ADDING_FAULT_DELAY_S)
        child.kill()
        swap.fault_point("adding")
    _run(cmd)


def resolve(action: str) -> int:
    """``--status``, ``--finish`` or ``--undo`` for an interrupted ingest."""
    journal = swap.Journal.load()
    if journal is None:
        leftovers = swap.leftovers()
        if leftovers:
            swap.clean_up()
            print(f"[ingest] removed {len(leftovers)} file(s) of an ingest killed before it "
                  "changed anything; the data and its pointer are as they were")  # fmt: skip
        else:
            print("[ingest] no interrupted ingest: nothing to finish or undo")
        return 0
    found = swap.inspect(journal, workspace_matches_pointer)
    print(f"[ingest] {found.describe()}")
    if action == "status":
        print(f"[ingest] {found.advice()}")
        return 1
    if action == "finish":
        swap.finish(journal, found, lambda: _add(Path(journal.target)))
        md5 = pointer_md5(Path(journal.pointer)) or "unknown"
        print(f"[ingest] finished: {journal.table} holds the new version; {journal.pointer} "
              f"records it (md5 {md5[:8]}). Next: `dvc push`, then git add and commit "
              f"{journal.pointer}")  # fmt: skip
    else:
        swap.undo(journal)
        print(f"[ingest] undone: {journal.table} and {journal.pointer} are as they were before "
              f"the ingest of {journal.batch}")  # fmt: skip
    return 0


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
    parser.add_argument("batch", type=Path, nargs="?", help="new labelled rows (CSV or Parquet)")
    recovery = parser.add_mutually_exclusive_group()
    for action, words in (
        ("status", "say what an interrupted ingest left (exit 1 if one did)"),
        ("finish", "complete an interrupted ingest"),
        ("undo", "put the table and pointer back as they were before an interrupted ingest"),
    ):
        recovery.add_argument(
            f"--{action}", dest="action", action="store_const", const=action, help=words
        )
    parser.add_argument("--commit", action="store_true", help="also git-commit the new version")
    parser.add_argument("--no-push", action="store_true", help="do not dvc push")
    parser.add_argument(
        "--allow-duplicates", action="store_true", help="append even if every row is known"
    )
    parser.add_argument("--params", type=Path, default=PARAMS_FILE)
    args = parser.parse_args(argv)
    if args.action:
        try:
            return resolve(args.action)
        except (swap.SwapError, ToolMissing, OSError) as exc:
            print(f"[ingest] ERROR: {exc}", file=sys.stderr)
            return 1
        except subprocess.CalledProcessError as exc:
            print(f"[ingest] ERROR: {' '.join(exc.cmd)} failed: "
                  f"{(exc.stderr or '').strip()[-500:]}", file=sys.stderr)  # fmt: skip
            return 1
    if args.batch is None:
        parser.error("give the BATCH to ingest (or --status, --finish, --undo)")
    try:
        params = load_params(args.params)
        result = ingest(args.batch, params, allow_duplicates=args.allow_duplicates)
    except Refused as exc:
        if exc.report is not None:
            print(exc.report.summary(), file=sys.stderr)
        print(f"[ingest] REFUSED: {exc}. Nothing was changed.", file=sys.stderr)
        return 1
    except (ConfigError, ContractError, InputError, ToolMissing, swap.SwapError) as exc:
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
