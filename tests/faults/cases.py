"""Every fault and bad input the fault table shows: how to break a project, what to run.

Each case breaks a scratch copy of a project that has been through the whole pipeline
(``prepare``), runs one command the way a user would, and says what must come back: the
exit status (or HTTP status) and a phrase of the message. tests/faults/test_faults.py runs
them, checks that nothing was lost, and renders docs/faults.md from what they printed.
"""

# ruff: noqa: E501  (the case table reads best one case per line)
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tabpipe.core.config import Params, load_params
from tabpipe.core.contract import load_contract
from tabpipe.core.io import read_table
from tests.support.gitrepos import IDENTITY_ARGS
from tests.support.monitoring import write_simulated
from tests.support.scratch import inside

PARAMS = Path("params.yaml")
RAW = Path("<data.raw>")  # stands for params.yaml's data.raw, whatever the project's table
CONTRACT = Path("<data.contract>")
BATCH = Path("incoming/batch.csv")


def project(root: Path) -> Params:
    with inside(root):
        return load_params()


def resolved(root: Path, path: Path) -> Path:
    if path == RAW:
        return root / project(root).data.raw
    if path == CONTRACT:
        return root / project(root).data.contract
    return root / path


def csv_table(root: Path) -> Path:
    """The raw table, for cases about CSV text (a Parquet project has none of those)."""
    table = resolved(root, RAW)
    if table.suffix.lower() != ".csv":
        pytest.skip(f"not applicable: {table.name} is not a CSV file")
    return table


@dataclass(frozen=True)
class Case:
    id: str
    defect: str  # the item number, or "" for an input tried beyond the list
    wrong: str  # what is wrong, as the table says it
    command: list[str]  # `tabpipe ...` arguments; for HTTP cases the request shown
    exit: int  # exit status, or HTTP status for the service
    says: str  # a phrase the message must contain
    prepare: Callable[[Path], None] = lambda root: None
    writes: tuple[str, ...] = ()  # files the command may write (its reports)
    http: bool = False
    patch: Callable[[object], None] | None = None  # monkeypatch hook (tool not installed)
    restores: tuple[str, ...] = ()  # paths put back as they were before ``prepare`` broke them


def edit(path: Path, old: str, new: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        target = resolved(root, path)
        text = target.read_text(encoding="utf-8")
        if old not in text:
            pytest.skip(f"not applicable: {target.name} has no {old!r}")
        target.write_text(text.replace(old, new, 1), encoding="utf-8")

    return apply


def write(path: Path, content: bytes | Callable[[Path], bytes]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        target = resolved(root, path)
        data = content(root) if callable(content) else content
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            target.rmdir()
        elif target.exists() or target.is_symlink():
            target.unlink()
        target.write_bytes(data)

    return apply


def raw_bytes(root: Path) -> bytes:
    return csv_table(root).read_bytes()


def trailing_commas(root: Path) -> bytes:
    lines = raw_bytes(root).decode().splitlines()
    return ("\n".join([lines[0], *(line + "," for line in lines[1:])]) + "\n").encode()


def batch_of(rows: int) -> Callable[[Path], bytes]:
    return rows_of(rows)


def doubled(root: Path) -> bytes:
    lines = raw_bytes(root).decode().splitlines(keepends=True)
    return "".join([*lines, *lines[1:]]).encode()


def latin1_row(root: Path) -> bytes:
    lines = raw_bytes(root).split(b"\n")
    middle = len(lines) // 2
    lines[middle] = lines[middle].replace(b",", b",\xe9", 1)  # a Latin-1 "e acute"
    return b"\n".join(lines)


def bom_crlf(root: Path) -> bytes:
    return b"\xef\xbb\xbf" + raw_bytes(root).replace(b"\n", b"\r\n")


def zipped(root: Path) -> bytes:
    target = root / "build" / "book.zip"
    with zipfile.ZipFile(target, "w") as book:
        book.writestr("xl/workbook.xml", "<workbook/>")
    data = target.read_bytes()
    target.unlink()
    return data


def parquet_of_raw(root: Path) -> bytes:
    target = root / "build" / "raw.parquet"
    pd.read_csv(csv_table(root)).to_parquet(target, index=False)
    data = target.read_bytes()
    target.unlink()
    return data


def folder(path: Path) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        target = resolved(root, path)
        if target.exists():
            target.unlink()
        target.mkdir(parents=True)

    return apply


def symlink_loop(path: Path) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        target = resolved(root, path)
        target.unlink()
        target.symlink_to(target.name)  # points at itself

    return apply


def both(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        for step in steps:
            step(root)

    return apply


def dtype_named_columns(root: Path) -> None:
    """A numeric and a categorical feature renamed after pandas dtypes, everywhere."""
    params = project(root)
    mapping = {}
    if params.features.numeric:
        mapping[params.features.numeric[0]] = "float64"
    if params.features.categorical:
        mapping[params.features.categorical[0]] = "category"

    def renamed(value: object) -> object:
        if isinstance(value, str):
            return mapping.get(value, value)
        if isinstance(value, list):
            return [renamed(v) for v in value]
        if isinstance(value, dict):
            return {renamed(k): renamed(v) for k, v in value.items()}
        return value

    table = csv_table(root)
    pd.read_csv(table).rename(columns=mapping).to_csv(table, index=False)
    settings = yaml.safe_load((root / PARAMS).read_text())
    settings["features"] = renamed(settings["features"])
    settings["split"]["group_by"] = renamed(settings["split"].get("group_by", []))
    settings["evaluate"]["slice_by"] = renamed(settings["evaluate"]["slice_by"])
    drift = settings["monitor"]["drift"]
    drift["thresholds"] = renamed(drift.get("thresholds") or {})
    (root / PARAMS).write_text(yaml.safe_dump(settings, sort_keys=False))
    contract = resolved(root, CONTRACT)
    spec = yaml.safe_load(contract.read_text())
    spec["columns"] = {mapping.get(k, k): v for k, v in spec["columns"].items()}
    contract.write_text(yaml.safe_dump(spec, sort_keys=False))


def without_two_features(root: Path) -> bytes:
    params = project(root)
    frame = read_table(resolved(root, RAW)).drop(columns=params.features.all[:2])
    return frame.head(300).to_csv(index=False).encode()


def rows_of(count: int) -> Callable[[Path], bytes]:
    """``count`` rows of the raw table as CSV (any project's, CSV or Parquet), fewest nulls first.

    A batch must meet the contract's null-share caps to get past validation to the fault a
    case is about; the first rows of a table need not (penguins: 22% of the first 50 rows
    lack the isotope measurements, capped at 8%). Nulls are counted in the columns the model
    reads (an excluded comment column is filled exactly where a measurement is missing);
    rows without nulls keep their table order.
    """

    def make(root: Path) -> bytes:
        params = project(root)
        table = read_table(resolved(root, RAW))
        used = [c for c in [*params.features.all, params.data.target] if c in table.columns]
        nulls = table[used].isna().sum(axis=1).sort_values(kind="stable")
        return table.loc[nulls.index[:count]].to_csv(index=False).encode()

    return make


def killed_ingest(step: str) -> Callable[[Path], None]:
    """A git + DVC project whose `tabpipe ingest` was killed (SIGKILL) after ``step``."""

    def apply(root: Path) -> None:
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }

        def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                args, cwd=root, env={**env, **extra}, capture_output=True, text=True,
                check=False, start_new_session=True, timeout=300,
            )  # fmt: skip

        for args in (
            ("git", "init", "-q", "-b", "main"),
            ("dvc", "init", "-q"),
            ("dvc", "add", "-q", "data"),
            ("git", "add", "-A"),
            ("git", *IDENTITY_ARGS, "commit", "-qm", "x"),
        ):
            done = run(*args)
            assert done.returncode == 0, done.stderr
        params = project(root)
        with inside(root):
            raw = read_table(params.data.raw)
            write_simulated(raw, params, load_contract(params.data.contract),
                            root / "incoming/new.csv", "clean", rows=100)  # fmt: skip
        killed = run(
            sys.executable, "-m", "tabpipe.cli", "ingest", "incoming/new.csv", "--no-push",
            TABPIPE_INGEST_FAULT=step,
        )  # fmt: skip
        assert killed.returncode == -9, killed.stdout + killed.stderr

    return apply


def one_class_slice(root: Path) -> None:
    """A slice the evaluation left without ROC AUC: its rows all have one label."""
    if "roc_auc" not in project(root).gate.slice_thresholds:
        pytest.skip("not applicable: no ROC AUC threshold on slices")
    path = root / "metrics/slices.json"
    slices = json.loads(path.read_text())
    feature = next(iter(slices))
    slices[feature]["one-label"] = {"rows": 21, "accuracy": 1.0, "log_loss": 0.05}
    path.write_text(json.dumps(slices, indent=2))


def no_tools(monkeypatch: object) -> None:
    import shutil

    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)  # type: ignore[attr-defined]


SCORED = ["--out", "build/scored.csv", "--model-dir", "build/bundle"]

CASES: list[Case] = [
    # 1. a file that configures the pipeline, misspelled
    Case("params-section-typo", "1", "a misspelled section in params.yaml (`trian:`)",
         ["check"], 1, "trian: unknown section (did you mean 'train'?)",
         lambda root: (root / PARAMS).write_text((root / PARAMS).read_text() + "trian:\n  seed: 1\n")),
    Case("contract-check-typo", "1", "a misspelled check in the contract (`in_rnage:`)",
         ["check"], 1, "unknown key 'in_rnage' (did you mean 'in_range'?)",
         edit(CONTRACT, "in_range:", "in_rnage:")),
    Case("contract-check-typo-validate", "1", "the same, when the validate stage runs",
         ["validate"], 1, "unknown key 'in_rnage'", edit(CONTRACT, "in_range:", "in_rnage:")),
    Case("contract-setting-typo", "1", "a misspelled setting of a check (`max_vlue`)",
         ["check"], 1, "has no setting 'max_vlue' (did you mean 'max_value'?)",
         edit(CONTRACT, "max_value:", "max_vlue:")),
    Case("contract-key-twice", "1", "a key given twice in the contract",
         ["check"], 1, "is given twice", edit(CONTRACT, "strict: true", "strict: true\nstrict: false")),
    Case("contract-bool-as-text", "", "`nullable: \"false\"` (text, which pandera reads as true)",
         ["check"], 1, "nullable must be true or false", edit(CONTRACT, "nullable: false", 'nullable: "false"')),
    Case("contract-empty", "", "an empty contract file", ["check"], 1, "the contract is empty",
         write(CONTRACT, b"")),
    Case("params-list", "", "params.yaml that is a list", ["check"], 1, "the file is a list",
         write(PARAMS, b"- data\n- train\n")),
    Case("params-tab", "", "a tab indenting params.yaml", ["check"], 1, "not valid YAML",
         edit(PARAMS, "\ndata:\n", "\ndata:\n\t\n")),
    Case("params-missing", "", "no params.yaml (run from the wrong folder)", ["check"], 1,
         "not found", lambda root: (root / PARAMS).unlink()),
    # 3. ragged rows
    Case("trailing-comma-validate", "3", "a trailing comma on every data row",
         ["validate"], 1, "(a trailing comma?)", write(RAW, trailing_commas),
         writes=("reports/validation.json", "reports/validation.md")),
    Case("trailing-comma-ingest", "3", "the same in a batch to ingest",
         ["ingest", "incoming/trailing.csv", "--no-push"], 1, "(a trailing comma?)",
         write(Path("incoming/trailing.csv"), lambda root: trailing_commas(root)[:30_000].rsplit(b"\n", 1)[0] + b"\n")),
    Case("trailing-comma-predict", "3", "the same in a file to score",
         ["predict", "incoming/trailing.csv", *SCORED], 1, "(a trailing comma?)",
         write(Path("incoming/trailing.csv"), lambda root: trailing_commas(root)[:30_000].rsplit(b"\n", 1)[0] + b"\n")),
    # 4. the service
    Case("service-huge-body", "4", "a request body over max_body_bytes (5 MB)",
         ["POST /predict/batch", "Content-Length: 5000000"], 413, "larger than 4194304 bytes", http=True),
    Case("service-key-twice", "4", "a JSON key given twice (the first value invalid)",
         ["POST /predict", '{"<feature>": "x", ..., "<feature>": <valid>}'], 422, "is given twice", http=True),
    Case("service-stalled", "4", "an upload that stalls mid-body (`--body-timeout 1`)",
         ["POST /predict", "body never finished"], 408, "did not arrive within 1 s", http=True),
    Case("service-full", "4", "a third request while two stall (`--max-concurrent 2`)",
         ["POST /predict", "3 at once"], 503, "retry shortly", http=True),
    Case("service-head", "8", "`HEAD /health` (a load balancer's probe)",
         ["HEAD /health"], 200, "", http=True),
    # 5. ingest killed
    Case("ingest-killed-check", "5", "`tabpipe ingest` killed (kill -9) after swapping the table in, before `dvc add`; then `make run`",
         ["check"], 1, "was interrupted before it finished", killed_ingest("swapped")),
    Case("ingest-killed-undo", "5", "the same, undone", ["ingest", "--undo"], 0,
         "undone:", killed_ingest("swapped"), restores=("data",)),
    # 6. duplicates
    Case("duplicated-table", "6", "the table given twice (every row duplicated)",
         ["validate"], 1, "repeat an earlier row", write(RAW, doubled),
         writes=("reports/validation.json", "reports/validation.md")),
    # 7. expected errors that were tracebacks
    Case("predict-folder", "7", "a folder named `*.csv` to score", ["predict", "incoming/f.csv", *SCORED],
         1, "is a folder, not a file", folder(Path("incoming/f.csv"))),
    Case("drift-folder", "7", "a folder named `*.csv` to check for drift", ["drift", "incoming/f.csv"],
         1, "is a folder, not a file", folder(Path("incoming/f.csv"))),
    Case("validate-folder", "7", "a folder where the raw table should be", ["validate"], 1,
         "is a folder, not a file", folder(RAW), writes=("reports/validation.json", "reports/validation.md")),
    Case("predict-out-folder", "7", "`--out` that is a folder", ["predict", str(BATCH), "--out", "build"],
         1, "is a folder", write(BATCH, batch_of(50))),
    Case("predict-out-unwritable", "7", "`--out` under a file (cannot be created)",
         ["predict", str(BATCH), "--out", "data.dvc/scored.csv"], 1, "cannot write here",
         write(BATCH, batch_of(50))),
    Case("drift-out-file", "7", "drift's `--out` folder is a file", ["drift", str(BATCH), "--out", "data.dvc"],
         1, "cannot write here", write(BATCH, batch_of(300))),
    Case("ingest-no-dvc", "7", "`dvc` not installed anywhere", ["ingest", str(BATCH), "--no-push"], 1,
         "`dvc` is not installed", write(BATCH, batch_of(50)), patch=no_tools),
    Case("serve-metadata-list", "7", "a bundle whose model.json is `[]`",
         ["serve", "--model-dir", "build/bundle"], 1, "expected a JSON object",
         write(Path("build/bundle/model.json"), b"[]")),
    # 8. wrong exit codes and unclear words
    Case("drift-missing", "8", "a batch that does not exist", ["drift", "incoming/nope.csv"], 1,
         "file not found"),
    Case("drift-empty", "8", "an empty batch (0 bytes)", ["drift", str(BATCH)], 1, "empty (0 bytes)",
         write(BATCH, b"")),
    Case("drift-binary", "8", "a binary file as a batch", ["drift", str(BATCH)], 1, "binary file",
         write(BATCH, b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))),
    Case("drift-header-only", "8", "a batch with a header and no rows", ["drift", str(BATCH)], 1,
         "header but no rows", write(BATCH, batch_of(0))),
    Case("drift-missing-features", "8", "a batch lacking two features (schema skew)",
         ["drift", str(BATCH)], 2, "not measured: the column is not in the batch",
         write(BATCH, without_two_features),
         writes=("build/monitoring/drift.json", "build/monitoring/drift.md")),
    Case("gzip-named-csv", "8", "a gzip file named `.csv`", ["drift", str(BATCH)], 1, "gzip-compressed",
         write(BATCH, lambda root: gzip.compress(batch_of(100)(root)))),
    Case("latin1", "8", "a Latin-1 byte in a row half-way down the file", ["validate"], 1,
         "is not UTF-8 text", write(RAW, latin1_row),
         writes=("reports/validation.json", "reports/validation.md")),
    Case("empty-onnx", "8", "an empty `models/model.onnx`", ["bundle", "--out", "build/b2"], 1,
         "the file is empty (0 bytes)", write(Path("models/model.onnx"), b"")),
    Case("one-class-slice", "8", "a slice whose rows all have one label (no ROC AUC)", ["gate"], 1,
         "ROC AUC is undefined", one_class_slice, writes=("reports/gate.json", "reports/gate.md")),
    Case("predict-header-only", "8", "a file to score with a header and no rows",
         ["predict", str(BATCH), *SCORED], 0, "scored 0 rows of incoming/batch.csv with model v1.0.0", write(BATCH, batch_of(0)),
         writes=("build/scored.csv",)),
    # inputs beyond the list
    Case("bom-crlf", "", "a CSV with a byte-order mark and CRLF line ends (Excel)", ["validate"], 0,
         "PASS", write(RAW, bom_crlf),
         writes=("reports/validation.json", "reports/validation.md", "build/validated.parquet")),
    Case("semicolons", "", "a semicolon-separated file", ["validate"], 1, "separated by semicolons",
         write(RAW, lambda root: raw_bytes(root).replace(b",", b";")),
         writes=("reports/validation.json", "reports/validation.md")),
    Case("xlsx-named-csv", "", "an Excel workbook renamed `.csv`", ["validate"], 1, "ZIP archive",
         write(RAW, zipped), writes=("reports/validation.json", "reports/validation.md")),
    Case("parquet-named-csv", "", "a Parquet file named `.csv`", ["validate"], 1,
         "is a Parquet file: name it .parquet", write(RAW, parquet_of_raw),
         writes=("reports/validation.json", "reports/validation.md")),
    Case("utf16", "", "a UTF-16 file", ["validate"], 1, "UTF-16",
         write(RAW, lambda root: raw_bytes(root).decode().encode("utf-16")),
         writes=("reports/validation.json", "reports/validation.md")),
    Case("symlink-loop", "", "the raw table a symlink loop", ["validate"], 1,
         "Too many levels of symbolic links", symlink_loop(RAW),
         writes=("reports/validation.json", "reports/validation.md")),
    Case("dtype-named-columns", "", "columns named `float64` and `category`", ["validate"], 0,
         "PASS", dtype_named_columns,
         writes=("reports/validation.json", "reports/validation.md", "build/validated.parquet")),
]  # fmt: skip
