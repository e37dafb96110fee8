"""Swap a new version of a DVC-tracked table into place so that a kill cannot tear it.

A new version is two changes, the table's bytes and its ``.dvc`` pointer (``dvc add``),
and no file system changes two files at once. So every step is recorded first in a
journal in a git-ignored folder (:data:`~tabpipe.core.paths.INGEST_WORK`), and the work
is ordered so that a kill at any moment (``kill -9``, a cancelled CI job, a full disk)
leaves something the next run can finish or undo:

1. ``staged``: the new table is written beside the journal (the data is untouched);
2. ``journal``: the journal records the table, its pointer, both versions' md5 and the
   pointer's bytes before;
3. ``backup``: the current table is hard-linked (or copied) beside the journal;
4. ``swapped``: the new table replaces the old one in one ``os.replace``: at every instant
   the table is either the old version or the new one, never a mix or missing;
5. ``recorded``: ``dvc add`` records the new version in the pointer;
6. the journal and its files are removed.

While a journal exists, ``tabpipe check`` (so ``make run``) and the validate stage refuse
to run, and ``tabpipe ingest`` refuses a new batch: ``tabpipe ingest --status`` says what it
found (which version the table and the pointer hold), ``--finish`` completes the swap and
``--undo`` puts the old table and pointer back byte for byte. An error that is caught (not
a kill) is undone at once.

For tests, ``TABPIPE_INGEST_FAULT=<step>`` kills the process with SIGKILL right after that
step (``adding``: while ``dvc add`` runs, which is killed too).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from tabpipe.core.dvcfiles import file_md5
from tabpipe.core.io import write_json
from tabpipe.core.paths import INGEST_JOURNAL, INGEST_WORK

FAULT_ENV = "TABPIPE_INGEST_FAULT"
STEPS = ("staged", "journal", "backup", "swapped", "adding", "recorded")


class SwapError(Exception):
    """The swap cannot be done, finished or undone; the message says why and what to do."""


def fault_point(step: str) -> None:
    """Die here, as a kill would, when the fault-injection variable names this step."""
    if os.environ.get(FAULT_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class Journal:
    """What an ingest in flight is doing: enough to finish or undo it after a kill."""

    batch: str
    table: str
    pointer: str
    target: str  # what the pointer tracks: the table, or a folder above it
    old_md5: str
    new_md5: str
    pointer_before: str
    started_at: str

    @property
    def staged(self) -> Path:
        return INGEST_WORK / f"staged{Path(self.table).suffix}"

    @property
    def backup(self) -> Path:
        return INGEST_WORK / f"backup{Path(self.table).suffix}"

    def save(self) -> None:
        write_json(INGEST_JOURNAL, asdict(self))

    @classmethod
    def load(cls) -> Journal | None:
        if not INGEST_JOURNAL.exists():
            return None
        try:
            return cls(**json.loads(INGEST_JOURNAL.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise SwapError(
                f"{INGEST_JOURNAL} is not a readable ingest journal ({exc}); check `git status` "
                f"and `dvc status`, then delete {INGEST_WORK}"
            ) from exc


@dataclass(frozen=True)
class Found:
    """Which version the table and its pointer hold, for an interrupted swap."""

    journal: Journal
    data: str  # old | new | missing | other
    pointer: str  # old | new | other

    @property
    def untouched(self) -> bool:
        return self.data == "old" and self.pointer == "old"

    @property
    def complete(self) -> bool:
        return self.data == "new" and self.pointer == "new"

    def describe(self) -> str:
        j = self.journal
        words = {
            "old": "the version before the ingest",
            "new": f"the new version (with {j.batch})",
            "missing": "missing",
            "other": "neither version (edited since?)",
        }
        pointer_words = {
            "old": "as before the ingest",
            "new": "recording the new version",
            "other": "changed but not recording the new version (half-written?)",
        }
        lines = [
            f"an ingest of {j.batch} started {j.started_at} was interrupted:",
            f"  {j.table}: {words[self.data]}",
            f"  {j.pointer}: {pointer_words[self.pointer]}",
        ]
        if self.untouched:
            lines.append("  nothing was changed yet")
        elif self.complete:
            lines.append("  the new version is in place; only the clean-up is left")
        return "\n".join(lines)

    def advice(self) -> str:
        finish = "`tabpipe ingest --finish` records the new version"
        undo = "`tabpipe ingest --undo` puts the old table and pointer back"
        if self.complete:
            return f"{finish} (it only removes {INGEST_WORK}); or {undo}"
        if self.data == "other":
            return (
                f"the table was changed after the ingest: {undo} (your edits are lost), or "
                f"keep your edits: `dvc add {self.journal.target}` and delete {INGEST_WORK}"
            )
        return f"{finish}; or {undo}"


def inspect(journal: Journal, pointer_matches: Callable[[Path], bool]) -> Found:
    """Compare the table and pointer on disk with the two versions the journal names."""
    table, pointer = Path(journal.table), Path(journal.pointer)
    if not table.exists():
        data = "missing"
    else:
        digest = file_md5(table)
        data = {journal.old_md5: "old", journal.new_md5: "new"}.get(digest, "other")
    text = pointer.read_text(encoding="utf-8") if pointer.exists() else ""
    if text == journal.pointer_before:
        state = "old"
    elif data == "new" and pointer_matches(pointer):
        state = "new"
    else:
        state = "other"
    return Found(journal, data, state)


def _link_or_copy(source: Path, destination: Path) -> None:
    destination.unlink(missing_ok=True)
    try:
        os.link(source, destination)
    except OSError:  # no hard links here (another file system, a FAT volume...)
        shutil.copy2(source, destination)


def _work_folder() -> None:
    INGEST_WORK.mkdir(parents=True, exist_ok=True)
    ignore = INGEST_WORK / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# tabpipe ingest's work in progress: never committed\n*\n")


def clean_up() -> None:
    """Remove the work folder (and its parent if that is left empty)."""
    shutil.rmtree(INGEST_WORK, ignore_errors=True)
    with contextlib.suppress(OSError):  # not empty (something else lives there), or gone
        INGEST_WORK.parent.rmdir()


def leftovers() -> list[Path]:
    """Files of a swap killed before its journal was written (nothing was changed then)."""
    if not INGEST_WORK.is_dir() or INGEST_JOURNAL.exists():
        return []
    return sorted(p for p in INGEST_WORK.iterdir() if p.name != ".gitignore")


def swap_in(
    *,
    batch: Path,
    table: Path,
    pointer: Path,
    target: Path,
    write_new: Callable[[Path], None],
    dvc_add: Callable[[], None],
) -> None:
    """Write the new table with ``write_new(path)``, swap it in and record it, journaled.

    On an exception everything is put back as it was before it is raised again.
    """
    if INGEST_JOURNAL.exists():
        raise SwapError(f"{INGEST_JOURNAL} exists: an earlier ingest is not finished")
    _work_folder()
    staged = INGEST_WORK / f"staged{table.suffix}"
    try:
        write_new(staged)
    except BaseException:
        clean_up()
        raise
    fault_point("staged")
    journal = Journal(
        batch=str(batch),
        table=str(table),
        pointer=str(pointer),
        target=str(target),
        old_md5=file_md5(table),
        new_md5=file_md5(staged),
        pointer_before=pointer.read_text(encoding="utf-8"),
        started_at=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    )
    journal.save()
    fault_point("journal")
    try:
        _link_or_copy(table, journal.backup)
        fault_point("backup")
        os.replace(staged, table)
        fault_point("swapped")
        dvc_add()
        fault_point("recorded")
    except BaseException:
        undo(journal)
        raise
    clean_up()


def finish(journal: Journal, found: Found, dvc_add: Callable[[], None]) -> None:
    """Complete an interrupted swap: the new table in place, recorded by ``dvc add``."""
    if found.data == "other":
        raise SwapError(
            f"{journal.table} holds neither the old nor the new version: not finishing "
            f"over your edits ({found.advice()})"
        )
    if found.data != "new":
        if not journal.staged.exists() or file_md5(journal.staged) != journal.new_md5:
            raise SwapError(
                f"the new version ({journal.staged}) is gone or damaged: it cannot be "
                "finished; undo it (`tabpipe ingest --undo`) and ingest the batch again"
            )
        if found.data == "old":
            _link_or_copy(Path(journal.table), journal.backup)
        os.replace(journal.staged, journal.table)
    if found.pointer != "new":
        dvc_add()
    clean_up()


def undo(journal: Journal) -> None:
    """Put the old table and the old pointer back, byte for byte, and remove the journal."""
    table = Path(journal.table)
    if not table.exists() or file_md5(table) != journal.old_md5:
        if not journal.backup.exists() or file_md5(journal.backup) != journal.old_md5:
            raise SwapError(
                f"the old version of {table} is not in {INGEST_WORK}: restore it with "
                f"`git checkout {journal.pointer} && dvc checkout {journal.pointer}`"
            )
        restored = INGEST_WORK / f"restoring{table.suffix}"
        shutil.copy2(journal.backup, restored)
        os.replace(restored, table)
    pointer = Path(journal.pointer)
    if not pointer.exists() or pointer.read_text(encoding="utf-8") != journal.pointer_before:
        staged_pointer = INGEST_WORK / "pointer.before"
        staged_pointer.write_text(journal.pointer_before, encoding="utf-8")
        os.replace(staged_pointer, pointer)
    clean_up()
