"""Input tables are read with clear errors; artifacts are written atomically."""

import gzip
import os
import re
import shlex
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from tabpipe.core.io import (
    InputError,
    OutputError,
    atomic_path,
    parquet_rows,
    read_parquet,
    read_table,
    write_json,
    write_with,
)


def test_a_failed_write_leaves_the_previous_file_intact(tmp_path):
    target = tmp_path / "model.bin"
    target.write_bytes(b"good model")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half writt")
        raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"good model"
    assert list(tmp_path.iterdir()) == [target], "no temporary file is left behind"


def test_json_with_nan_is_refused_not_written(tmp_path):
    target = tmp_path / "metrics.json"
    with pytest.raises(ValueError):
        write_json(target, {"accuracy": float("nan")})
    assert not target.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("a;b;c\n1;2;3\n", "separated by semicolons"),
        ("a\tb\tc\n1\t2\t3\n", "separated by tabs"),
        ("a,b,a\n1,2,3\n", r"duplicated column names.*\['a'\]"),
        ("\n\n", "no header"),
    ],
)
def test_unreadable_csv_files_are_named_and_explained(tmp_path, content, message):
    path = tmp_path / "batch.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as error:
        read_table(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_a_file_with_another_separator_comes_with_a_command_that_converts_it(tmp_path, delimiter):
    folder = tmp_path / "it's here"  # a quote in the path: the command must still run
    folder.mkdir()
    path = folder / "table.csv"
    path.write_text(delimiter.join("abc") + "\n" + delimiter.join("123") + "\n")
    with pytest.raises(InputError) as error:
        read_table(path)
    command = re.search(r"convert it with `(.+?)` \(add", str(error.value))
    assert command, str(error.value)
    argv = shlex.split(command.group(1))
    assert argv[:2] == [".venv/bin/python", "-c"]
    subprocess.run([sys.executable, "-c", argv[2]], check=True, timeout=120)
    converted = read_table(folder / "table-comma.csv")
    assert list(converted.columns) == ["a", "b", "c"] and converted.iloc[0].tolist() == [1, 2, 3]


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_table(tmp_path / "nope.csv")
    odd = tmp_path / "data.xlsx"
    odd.write_text("x")
    with pytest.raises(InputError, match="unsupported file type"):
        read_table(odd)


def test_parquet_round_trip(tmp_path):
    frame = pd.DataFrame({"a": [1.0, None], "b": ["x", None]})
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    pd.testing.assert_frame_equal(read_table(path), frame)


def test_the_lean_parquet_reader_gives_pandas_own_frame(tmp_path):
    # Column by column and freeing Arrow's memory as it goes: the same values and types.
    frame = pd.DataFrame(
        {
            "number": [1.5, None, -0.0],
            "whole": [1, 2, 3],
            "nullable": pd.array([1, None, 3], dtype="Int64"),
            "flag": [True, False, True],
            "text": ["x", None, "z"],
            "category": pd.Categorical(["a", "b", None]),
            "when": pd.to_datetime(["2026-01-01", None, "2026-12-03"]),
        }
    )
    path = tmp_path / "t.parquet"
    frame.to_parquet(path, index=False)
    pd.testing.assert_frame_equal(read_parquet(path), pd.read_parquet(path))
    pd.testing.assert_frame_equal(
        read_parquet(path, columns=["text", "number"]), frame[["text", "number"]]
    )
    assert parquet_rows(path) == 3


def test_a_corrupt_parquet_file_is_an_input_error(tmp_path):
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="Parquet"):
        read_table(Path(path))


@pytest.mark.parametrize(
    ("head", "says"),
    [
        (b"PK\x03\x04 workbook", "is a ZIP archive (an Excel .xlsx workbook is one)"),
        (b"\x1f\x8b\x08 gz", "is gzip-compressed"),
        (b"a,b\n1,2\n", "is text, not Parquet (a CSV file?): name it .csv"),
        (b"\x00\x01\x02binary", "does not start with the Parquet signature PAR1"),
    ],
)
def test_a_file_named_parquet_that_is_something_else_says_what_it_is(tmp_path, head, says):
    path = tmp_path / "t.parquet"
    path.write_bytes(head)
    with pytest.raises(InputError, match=re.escape(says)):
        read_table(path)


# --- what a file can be instead of a CSV table ---------------------------------------------


def test_artifacts_are_created_as_open_would_create_them(tmp_path):
    """Not mkstemp's 0600: a bundle must be readable by the service's own user."""
    previous = os.umask(0o027)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        write_with(tmp_path / "b.bin", lambda path: path.write_bytes(b"x"))
    finally:
        os.umask(previous)
    for name in ("a.json", "b.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name


def test_rows_longer_than_the_header_are_refused_not_shifted(tmp_path):
    trailing = tmp_path / "trailing.csv"
    trailing.write_text("a,b\n1,2,\n3,4,\n")
    with pytest.raises(InputError, match=r"line 2 has 3 fields but the header has 2 \(a trailing"):
        read_table(trailing)
    later = tmp_path / "later.csv"
    later.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(InputError, match="line 3"):
        read_table(later)
    extra = tmp_path / "extra.csv"
    extra.write_text("a,b\n1,2,x\n3,4,y\n")
    with pytest.raises(InputError, match="line 2 has 3 fields"):
        read_table(extra)


def test_a_bom_and_crlf_line_ends_read_as_plain_csv(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffa,b\r\n1,x\r\n2,y\r\n".encode())
    frame = read_table(path)
    assert list(frame.columns) == ["a", "b"] and frame["b"].tolist() == ["x", "y"]


def _zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.write_bytes(gzip.compress(b"a,b\n1,2\n")), "gzip-compressed"),
        (_zip, r"ZIP archive \(an Excel .xlsx workbook is one\)"),
        (lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 9), "old-style"),
        (lambda p: pd.DataFrame({"a": [1]}).to_parquet(p), "is a Parquet file: name it .parquet"),
        (lambda p: p.write_text("a,b\n1,2\n", encoding="utf-16"), "UTF-16"),
        (lambda p: p.write_bytes(b"a,b\n\x00\x01\x02\n"), "binary file"),
    ],
)  # fmt: skip
def test_a_file_that_is_not_csv_text_is_called_what_it_is(tmp_path, write, message):
    path = tmp_path / "data.csv"
    write(path)
    with pytest.raises(InputError, match=message):
        read_table(path)


def test_a_decode_error_names_the_line_and_byte_in_the_file(tmp_path):
    path = tmp_path / "latin1.csv"
    rows = "".join(f"{i},x\n" for i in range(20_000))  # past pandas' first read chunk
    path.write_bytes(b"a,b\n" + rows.encode() + "7,café\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"line 20002, byte 6: b'\\xe9' is not UTF-8"):
        read_table(path)


def test_folders_links_and_unreadable_paths_are_named(tmp_path):
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(InputError, match="is a folder, not a file"):
        read_table(tmp_path / "folder.csv")
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    with pytest.raises(InputError, match="symbolic links"):
        read_table(loop)
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "gone.csv")
    with pytest.raises(InputError, match=r"symbolic link to .*gone\.csv, which does not exist"):
        read_table(dangling)


def test_a_destination_that_cannot_be_written_is_an_output_error(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        write_json(tmp_path / "folder", {})
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"cannot write here: .*file is a file, not a folder"):
        write_json(tmp_path / "file" / "report.json", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder"]
