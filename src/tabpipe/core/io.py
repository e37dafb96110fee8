"""Reading input tables and writing artifacts atomically.

Every artifact is written to a temporary file beside its destination and moved into
place with ``os.replace``, so a crash or a failed check never leaves a half-written
file where a previous good one stood.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where a table is read: writing JSON needs no pandas
    import pandas as pd

SUPPORTED_SUFFIXES = (".csv", ".parquet", ".pq")


class InputError(Exception):
    """An input file cannot be read as a table; the message names the file and why."""


@contextmanager
def atomic_path(destination: Path) -> Iterator[Path]:
    """Yield a temporary path; on success move it onto ``destination``, else delete it."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, destination)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, payload: Any) -> None:
    write_text(path, json.dumps(payload, indent=2, sort_keys=False, allow_nan=False) + "\n")


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_with(path: Path, writer: Callable[[Path], None]) -> None:
    """Atomically write ``path`` with a library writer that takes a path."""
    with atomic_path(path) as tmp:
        writer(tmp)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def read_json_object(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file, or None when the file is missing, unreadable or not one.

    For artifacts a reader may meet before they exist (a report before the pipeline ran);
    a producer's typed ``from_dict`` then checks the fields.
    """
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet table, turning every reader failure into an InputError."""
    if not path.exists():
        raise InputError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"{path}: unsupported file type {suffix!r}; use one of {SUPPORTED_SUFFIXES}"
        )
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes)")
    if suffix == ".csv":
        return _read_csv(path)
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types; all mean "not a readable table"
        raise InputError(f"{path}: not a readable Parquet file: {exc}") from exc


def _read_csv(path: Path) -> pd.DataFrame:
    import pandas as pd

    with path.open(newline="", encoding="utf-8") as handle:
        try:
            header = next(csv.reader(handle), [])
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read the header row: {exc}") from exc
    if not [name for name in header if name.strip()]:
        raise InputError(f"{path}: the file has no header row")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise InputError(f"{path}: duplicated column names in the header: {duplicated}")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not a readable CSV file: {exc}") from exc
    if frame.shape[1] == 1:
        only = str(frame.columns[0])
        for delimiter, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if delimiter in only:
                raise InputError(
                    f"{path}: one column named {only[:60]!r}: the file seems to be separated by "
                    f"{name}; this project reads comma-separated CSV"
                )
    return frame
