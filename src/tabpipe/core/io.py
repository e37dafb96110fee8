"""Reading input tables and writing artifacts atomically.

Every artifact is written to a temporary file beside its destination and moved into
place with ``os.replace``, so a crash or a failed check never leaves a half-written
file where a previous good one stood. The temporary file is created as ``open()`` would
create it (mode 0666 minus the process umask), so artifacts keep ordinary permissions.

Reading a table turns every way a file can fail to be one (missing, a folder, a symlink
loop, compressed, a spreadsheet, not UTF-8, ragged rows) into an :class:`InputError` that
names the file and, where there is one, the line.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import secrets
import shlex
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where a table is read: writing JSON needs no pandas
    import pandas as pd

SUPPORTED_SUFFIXES = (".csv", ".parquet", ".pq")

# What a file that is not text starts with, and what to tell the user about it.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "is gzip-compressed: decompress it first (gunzip)"),
    (b"BZh", "is bzip2-compressed: decompress it first (bunzip2)"),
    (b"\xfd7zXZ\x00", "is xz-compressed: decompress it first (unxz)"),
    (b"\x28\xb5\x2f\xfd", "is zstd-compressed: decompress it first (unzstd)"),
    (
        b"PK\x03\x04",
        "is a ZIP archive (an Excel .xlsx workbook is one): export the sheet as CSV "
        "(UTF-8, comma-separated)",
    ),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "is an old-style Excel (.xls) or other OLE file: export the sheet as CSV",
    ),
    (b"PAR1", "is a Parquet file: name it .parquet"),
    (b"\xff\xfe", "is UTF-16 encoded: save it as UTF-8"),
    (b"\xfe\xff", "is UTF-16 encoded: save it as UTF-8"),
)


class InputError(Exception):
    """An input file cannot be read as a table; the message names the file and why."""


class OutputError(InputError):
    """An artifact cannot be written there (a folder, no permission, a full disk).

    A subclass of :class:`InputError` so every command that reports a bad file also
    reports a bad destination cleanly; the message names the path and the reason.
    """


def _create_exclusive(folder: Path, prefix: str) -> Path:
    # Not tempfile.mkstemp: it creates files with mode 0600 whatever the umask, and
    # os.replace keeps that mode, so a bundle or report written through it could not be
    # read by another user (e.g. the service's uid in the Dockerfile). os.open with 0o666
    # lets the kernel apply the umask, exactly as open() does.
    for _ in range(100):
        candidate = folder / f"{prefix}{secrets.token_hex(6)}"
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return candidate
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))


@contextmanager
def atomic_path(destination: Path) -> Iterator[Path]:
    """Yield a temporary path; on success move it onto ``destination``, else delete it."""
    if destination.is_dir():
        raise OutputError(f"{destination}: is a folder; give a file name to write to")
    blocking = next((p for p in destination.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise OutputError(f"{destination}: cannot write here: {blocking} is a file, not a folder")
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = _create_exclusive(destination.parent, f".{destination.name}.")
    except OSError as exc:
        raise OutputError(f"{destination}: cannot write here: {_reason(exc)}") from exc
    try:
        yield tmp_path
        try:
            os.replace(tmp_path, destination)
        except OSError as exc:
            raise OutputError(f"{destination}: cannot write here: {_reason(exc)}") from exc
    finally:
        tmp_path.unlink(missing_ok=True)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


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


def check_readable_file(path: Path) -> int:
    """The file's size, or an InputError saying why ``path`` is not a readable file."""
    try:
        info = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise InputError(
                f"{path}: a symbolic link to {os.readlink(path)}, which does not exist"
            ) from None
        raise InputError(f"{path}: file not found") from None
    except OSError as exc:  # ELOOP (a symlink loop), EACCES on a folder above, ...
        raise InputError(f"{path}: cannot be read: {_reason(exc)}") from exc
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: cannot be read: permission denied")
    return info.st_size


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet table, turning every reader failure into an InputError."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        check_readable_file(path)
        raise InputError(
            f"{path}: unsupported file type {suffix!r}; use one of {SUPPORTED_SUFFIXES}"
        )
    if check_readable_file(path) == 0:
        raise InputError(f"{path}: the file is empty (0 bytes)")
    if suffix == ".csv":
        return _read_csv(path)
    try:
        return read_parquet(path)
    except Exception as exc:  # pyarrow raises many types; all mean "not a readable table"
        why = _not_parquet(path)
        if why:
            raise InputError(f"{path}: {why}; this project reads CSV or Parquet") from exc
        raise InputError(f"{path}: not a readable Parquet file: {exc}") from exc


def read_parquet(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A Parquet file as a DataFrame, holding no more memory than the frame needs.

    Two things pandas' default conversion costs, both measured on an 800,000-row split of
    30 numbers and 6 strings (a 0.23 GiB frame): it gathers the numbers into one 2-D block,
    a copy of them while the Arrow columns are still held (the process peaked at 0.69 GiB,
    its libraries included; 0.40 s); and
    pyarrow's allocator (mimalloc) keeps the pages it decoded into for its own reuse, 0.3
    GiB the process then holds while scikit-learn allocates elsewhere. Converting column by
    column and freeing each Arrow column once converted (pyarrow's ``split_blocks`` and
    ``self_destruct``: safe here, as the Arrow table is pandas' own and never used after)
    peaks at 0.53 GiB in 0.20 s, and :func:`release_arrow_memory` hands the decoded pages
    back. The frame's values and types are the same either way.
    """
    import pandas as pd

    frame = pd.read_parquet(
        path, columns=columns, to_pandas_kwargs={"split_blocks": True, "self_destruct": True}
    )
    release_arrow_memory()
    return frame


def release_arrow_memory() -> None:
    """Give back the memory pyarrow's allocator holds for reuse but no longer uses.

    A frame read from Parquet keeps its columns in memory from pyarrow's allocator, and
    when it is dropped the allocator keeps the pages for Arrow's next allocation, which
    scikit-learn and NumPy never make: a stage that drops a split to fit or predict calls
    this after (0.25 GiB of an 800,000-row, 36-column split). Nothing to do when pyarrow is
    not loaded.
    """
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()


def parquet_rows(path: Path) -> int:
    """How many rows a Parquet file holds, from its footer (no column is read)."""
    import pyarrow.parquet

    return int(pyarrow.parquet.read_metadata(path).num_rows)


def _not_parquet(path: Path) -> str | None:
    """What a file named .parquet that pyarrow cannot read is instead, from its first bytes."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"PAR1"):
        return None  # a Parquet file, damaged: pyarrow's own reason says how
    for signature, why in SIGNATURES:
        if head.startswith(signature):
            return why
    if b"\x00" not in head:
        return "is text, not Parquet (a CSV file?): name it .csv"
    return "is not a Parquet file (it does not start with the Parquet signature PAR1)"


def _not_text(path: Path) -> str | None:
    """Why the file is not CSV text, judged from its first bytes; None if it may be."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    for signature, why in SIGNATURES:
        if head.startswith(signature):
            return why
    if b"\x00" in head:
        return "is a binary file, not CSV text"
    return None


def _conversion_hint(path: Path, delimiter: str) -> str:
    """A command that writes the file comma-separated beside it (pandas, already installed)."""
    target = path.with_name(f"{path.stem}-comma.csv")
    source, sep, out = (json.dumps(str(v)) for v in (path, delimiter, target))  # "..." literals
    code = f"import pandas as p; p.read_csv({source}, sep={sep}).to_csv({out}, index=False)"
    return (
        f"convert it with `.venv/bin/python -c {shlex.quote(code)}` "
        "(add decimal=',' if its numbers have decimal commas)"
    )


def _decode_error(path: Path) -> str:
    """Where the file stops being UTF-8: line and byte column, counted from the file's start."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = line[exc.start : exc.end]
                return (
                    f"{path}: line {number}, byte {exc.start + 1}: {bad!r} is not UTF-8 text; "
                    "save the file as UTF-8 (it may be Latin-1 or Windows-1252)"
                )
    return f"{path}: the file is not UTF-8 text; save it as UTF-8"


def _read_csv(path: Path) -> pd.DataFrame:
    import pandas as pd

    why = _not_text(path)
    if why:
        raise InputError(f"{path}: {why}; this project reads comma-separated CSV or Parquet")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = csv.reader(handle)
            header = next(rows, [])
            first = next(rows, None)
    except UnicodeDecodeError:
        raise InputError(_decode_error(path)) from None
    except csv.Error as exc:
        raise InputError(f"{path}: cannot read the first lines as CSV: {exc}") from exc
    if not [name for name in header if name.strip()]:
        raise InputError(f"{path}: the file has no header row")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise InputError(f"{path}: duplicated column names in the header: {duplicated}")
    if first is not None and len(first) > len(header):
        extra = first[len(header) :]
        hint = " (a trailing comma?)" if not any(v.strip() for v in extra) else ""
        raise InputError(
            f"{path}: line 2 has {len(first)} fields but the header has {len(header)}"
            f"{hint}; every row must have one value per column name"
        )
    try:
        with warnings.catch_warnings():
            # index_col=False: never take a first column as the index when rows are longer
            # than the header (pandas' default would shift every value one column left).
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, index_col=False)
    except pd.errors.ParserWarning:
        raise InputError(
            f"{path}: some rows have more fields than the header ({len(header)} columns); "
            "every row must have one value per column name"
        ) from None
    except UnicodeDecodeError:
        raise InputError(_decode_error(path)) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(f"{path}: not a readable CSV file: {exc}") from exc
    if frame.shape[1] == 1:
        only = str(frame.columns[0])
        for delimiter, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if delimiter in only:
                raise InputError(
                    f"{path}: one column named {only[:60]!r}: the file seems to be separated by "
                    f"{name}; this project reads comma-separated CSV: "
                    f"{_conversion_hint(path, delimiter)}"
                )
    return frame
