"""The swap's recovery from states a kill can leave, on plain files (no DVC needed).

tests/monitoring/test_ingest.py kills a real ``tabpipe ingest`` at each step; here the one
state that a kill inside ``dvc add`` can leave and that timing makes rare is built by hand:
the new table in place and a half-written pointer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tabpipe.core.paths import INGEST_JOURNAL, INGEST_WORK
from tabpipe.monitoring import swap

OLD, NEW = b"a,b\n1,2\n", b"a,b\n1,2\n3,4\n"
POINTER_BEFORE = "outs:\n- md5: 1111\n  path: data\n"
POINTER_AFTER = "outs:\n- md5: 2222\n  path: data\n"


@pytest.fixture
def torn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> swap.Journal:
    """A swap killed while ``dvc add`` was writing the pointer."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    Path("data/t.csv").write_bytes(OLD)
    Path("data.dvc").write_text(POINTER_BEFORE)
    journal = swap.Journal(
        batch="incoming/b.csv",
        table="data/t.csv",
        pointer="data.dvc",
        target="data",
        old_md5=swap.file_md5(Path("data/t.csv")),
        new_md5="",
        pointer_before=POINTER_BEFORE,
        started_at="then",
    )
    INGEST_WORK.mkdir(parents=True)
    journal.staged.write_bytes(NEW)
    journal = swap.Journal(**{**journal.__dict__, "new_md5": swap.file_md5(journal.staged)})
    journal.save()
    swap._link_or_copy(Path("data/t.csv"), journal.backup)
    Path(journal.staged).replace("data/t.csv")
    Path("data.dvc").write_text(POINTER_AFTER[:12])  # killed mid-write
    return journal


def test_a_half_written_pointer_is_found_and_undone_byte_for_byte(torn):
    found = swap.inspect(torn, lambda pointer: False)
    assert (found.data, found.pointer) == ("new", "other")
    assert "half-written" in found.describe() and "--undo" in found.advice()
    swap.undo(torn)
    assert Path("data/t.csv").read_bytes() == OLD
    assert Path("data.dvc").read_text() == POINTER_BEFORE
    assert not INGEST_WORK.exists() and not INGEST_JOURNAL.exists()


def test_a_half_written_pointer_is_finished_by_recording_again(torn):
    found = swap.inspect(torn, lambda pointer: False)
    swap.finish(torn, found, lambda: Path("data.dvc").write_text(POINTER_AFTER))
    assert Path("data/t.csv").read_bytes() == NEW
    assert Path("data.dvc").read_text() == POINTER_AFTER
    assert not INGEST_WORK.exists()


def test_a_table_edited_after_the_kill_is_not_finished_over(torn):
    Path("data/t.csv").write_bytes(b"a,b\nmine\n")
    found = swap.inspect(torn, lambda pointer: False)
    assert found.data == "other"
    with pytest.raises(swap.SwapError, match="neither the old nor the new"):
        swap.finish(torn, found, lambda: None)
    assert Path("data/t.csv").read_bytes() == b"a,b\nmine\n"
