"""Input tables are read with clear errors; artifacts are written atomically."""

from pathlib import Path

import pandas as pd
import pytest

from tabpipe.core.io import InputError, atomic_path, read_table, write_json


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


def test_a_corrupt_parquet_file_is_an_input_error(tmp_path):
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="Parquet"):
        read_table(Path(path))
