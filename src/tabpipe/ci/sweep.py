"""Experiment sweeps: a grid of params, one ``dvc exp run -S`` per cell, one comparison table.

``expand``  read a grid (a JSON or YAML mapping ``param.path: [values]``), check every param
            against params.yaml and :class:`~tabpipe.core.config.Params`, and write the cells as
            a GitHub Actions matrix (``--github-output``) or print them
``run``     run one cell: ``dvc exp run -S key=value ...`` in the workspace, then collect
            its overrides, status and metrics into one folder (an artifact)
``report``  gather the cells' folders into one Markdown table, the best cell by a chosen
            metric and direction in bold; to a file and to the job summary

The grid is checked before anything runs: an unknown param, a value of the wrong type or
out of range, or more cells than the cap is an error naming the param and the cell. Every
cell runs with ``gate.fail_on_reject=false`` so that a cell the gate rejects still reports
its metrics (the verdict is a column of the table instead of a red job).
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from tabpipe.core.config import Params
from tabpipe.core.io import read_json_object
from tabpipe.core.paths import PARAMS_FILE, PATHS, SWEEP_DIR
from tabpipe.pipeline.gate import RecordedVerdict

MAX_CELLS = 16
CELL_FILE = "cell.json"
ALWAYS = ("gate.fail_on_reject=false",)
Scalar = bool | int | float | str
Direction = Literal["higher", "lower"]


class SweepError(Exception):
    """The grid or the cells' results cannot be used; the message says what and where."""


@dataclass(frozen=True)
class Cell:
    id: str
    values: dict[str, Scalar]

    @property
    def overrides(self) -> list[str]:
        return [f"{key}={format_value(value)}" for key, value in self.values.items()]

    def as_matrix_entry(self) -> dict[str, Any]:
        return {"id": self.id, "values": self.values}


def format_value(value: Scalar) -> str:
    """A value as ``dvc exp run -S`` parses it (YAML-like: true/false, numbers, words)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_grid(text: str) -> dict[str, list[Scalar]]:
    """The grid from JSON or YAML text: a mapping of dotted param path to a list of values."""
    try:
        grid = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SweepError(f"the grid is not valid JSON or YAML: {exc}") from exc
    if not isinstance(grid, dict) or not grid:
        raise SweepError(
            'the grid must be a non-empty mapping of param to values, e.g. {"train.seed": [1, 2]}'
        )
    out: dict[str, list[Scalar]] = {}
    for key, values in grid.items():
        if not isinstance(key, str):
            raise SweepError(f"grid key {key!r}: a dotted param path such as train.seed")
        if not isinstance(values, list):
            values = [values]
        if not values:
            raise SweepError(f"{key}: give at least one value")
        for value in values:
            if not isinstance(value, bool | int | float | str):
                raise SweepError(f"{key}: {value!r} is not a single value (number, word, bool)")
            if isinstance(value, str) and not value.replace("_", "").replace("-", "").isalnum():
                raise SweepError(f"{key}: {value!r} may only hold letters, digits, '_' and '-'")
        if len(set(map(repr, values))) != len(values):
            raise SweepError(f"{key}: values repeat: {values}")
        out[key] = values
    return out


def _leaf_paths(tree: Mapping[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        paths.extend(_leaf_paths(value, f"{path}.") if isinstance(value, dict) else [path])
    return paths


def _with(tree: dict[str, Any], path: str, value: Scalar) -> None:
    *parents, leaf = path.split(".")
    node = tree
    for part in parents:
        node = node[part]
    node[leaf] = value


def check_param(path: str, raw: Mapping[str, Any]) -> None:
    """The param exists in params.yaml as a single value (not a group, not a list)."""
    node: Any = raw
    for depth, part in enumerate(path.split(".")):
        if not isinstance(node, dict) or part not in node:
            known = _leaf_paths(raw)
            close = difflib.get_close_matches(path, known, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            where = ".".join(path.split(".")[:depth]) or "the top level"
            raise SweepError(f"unknown param {path!r}: no {part!r} under {where}{hint}")
        node = node[part]
    if isinstance(node, dict | list):
        raise SweepError(f"{path} is a {type(node).__name__}, not a single value: sweep its keys")


def expand(
    grid: Mapping[str, Sequence[Scalar]], raw: Mapping[str, Any], max_cells: int = MAX_CELLS
) -> list[Cell]:
    """Every combination of the grid's values, each checked as a whole params.yaml."""
    for path in grid:
        check_param(path, raw)
    count = 1
    for values in grid.values():
        count *= len(values)
    if count > max_cells:
        sizes = " x ".join(str(len(v)) for v in grid.values())
        raise SweepError(f"the grid has {sizes} = {count} cells; the cap is {max_cells}")
    keys = list(grid)
    width = len(str(count))
    cells = []
    for number, combination in enumerate(itertools.product(*grid.values()), start=1):
        cell = Cell(f"cell-{number:0{width}d}", dict(zip(keys, combination, strict=True)))
        tree = json.loads(json.dumps(raw))
        for key, value in cell.values.items():
            _with(tree, key, value)
        try:
            Params.model_validate(tree)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise SweepError(f"{cell.id} ({', '.join(cell.overrides)}): {problems}") from exc
        cells.append(cell)
    return cells


# --- one cell ---------------------------------------------------------------------------------


def run_cell(entry: Mapping[str, Any], out: Path, dvc: str = "dvc") -> int:
    """Run ``dvc exp run`` for one matrix entry and write what it produced into ``out``."""
    cell = Cell(str(entry["id"]), dict(entry["values"]))
    overrides = [*cell.overrides, *ALWAYS]
    cmd = [dvc, "exp", "run", *(a for o in overrides for a in ("-S", o))]
    print("+ " + " ".join(cmd), flush=True)
    code = subprocess.run(cmd, check=False).returncode
    out.mkdir(parents=True, exist_ok=True)
    verdict = RecordedVerdict.read(PATHS.gate_verdict) if code == 0 else None
    result = {
        "id": cell.id,
        "values": cell.values,
        "command": " ".join(cmd),
        "status": "succeeded" if code == 0 else f"failed (exit {code})",
        "blessed": verdict.blessed if verdict is not None else None,
        "metrics": (read_json_object(PATHS.test_metrics) or {}) if code == 0 else {},
        "train_metrics": (read_json_object(PATHS.train_metrics) or {}) if code == 0 else {},
    }
    (out / CELL_FILE).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if code == 0 and PATHS.test_metrics.is_file():
        (out / "test.json").write_text(PATHS.test_metrics.read_text(encoding="utf-8"))
    return code


# --- the comparison report --------------------------------------------------------------------


def load_cells(folder: Path) -> list[dict[str, Any]]:
    cells = []
    for path in sorted(folder.rglob(CELL_FILE)):
        data = read_json_object(path)
        if data is None or "id" not in data:
            raise SweepError(f"{path}: not a sweep cell result")
        cells.append(data)
    if not cells:
        raise SweepError(f"no {CELL_FILE} under {folder}: did the sweep's cells upload results?")
    return sorted(cells, key=lambda c: str(c["id"]))


def best_cell(cells: Sequence[Mapping[str, Any]], metric: str, direction: Direction) -> str | None:
    scored = [c for c in cells if isinstance(c.get("metrics", {}).get(metric), int | float)]
    if not scored:
        return None
    pick = max if direction == "higher" else min
    return str(pick(scored, key=lambda c: c["metrics"][metric])["id"])


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "—" if value is None else str(value)


def report(cells: Sequence[Mapping[str, Any]], metric: str, direction: Direction) -> str:
    """One Markdown table: a row per cell, a column per swept param and per test metric."""
    if not any(metric in c.get("metrics", {}) for c in cells):
        found = sorted({m for c in cells for m in c.get("metrics", {})})
        raise SweepError(f"no cell has the metric {metric!r}; the cells have {found or 'none'}")
    params = list(dict.fromkeys(k for c in cells for k in c.get("values", {})))
    metrics = list(dict.fromkeys(m for c in cells for m in c.get("metrics", {})))
    best = best_cell(cells, metric, direction)
    lines = [
        "### Experiment sweep",
        "",
        f"{len(cells)} cells; best by `{metric}` ({direction} is better): **{best}**.",
        "",
        "| cell | "
        + " | ".join(f"`{p}`" for p in params)
        + " | "
        + " | ".join(metrics)
        + " | gate | status |",
        "|---" * (len(params) + len(metrics) + 3) + "|",
    ]
    for cell in cells:
        mark = (lambda s: f"**{s}**") if cell["id"] == best else (lambda s: s)
        values = [mark(_fmt(cell.get("values", {}).get(p))) for p in params]
        scores = [mark(_fmt(cell.get("metrics", {}).get(m))) for m in metrics]
        blessed = {True: "blessed", False: "rejected", None: "—"}[cell.get("blessed")]
        name = f"🏆 {mark(cell['id'])}" if cell["id"] == best else cell["id"]
        lines.append(
            f"| {name} | " + " | ".join([*values, *scores, blessed, str(cell["status"])]) + " |"
        )
    failed = [c["id"] for c in cells if c.get("status") != "succeeded"]
    if failed:
        lines += ["", f"Failed cells (see their job logs): {', '.join(failed)}."]
    lines += [
        "",
        "Each cell ran `dvc exp run` with its `-S` overrides (commands in the artifacts).",
    ]
    return "\n".join(lines) + "\n"


# --- command line -----------------------------------------------------------------------------


def _grid_text(args: argparse.Namespace) -> str:
    if args.grid_file:
        return Path(args.grid_file).read_text(encoding="utf-8")
    if args.grid is not None:
        return str(args.grid)
    return os.environ.get("SWEEP_GRID", "")


def _cmd_expand(args: argparse.Namespace) -> int:
    raw = yaml.safe_load(Path(args.params).read_text(encoding="utf-8"))
    cells = expand(parse_grid(_grid_text(args)), raw, args.max_cells)
    matrix = json.dumps([c.as_matrix_entry() for c in cells], separators=(",", ":"))
    if args.github_output:
        with open(args.github_output, "a", encoding="utf-8") as handle:
            handle.write(f"cells={matrix}\ncount={len(cells)}\n")
    for cell in cells:
        print(f"{cell.id}: dvc exp run " + " ".join(f"-S {o}" for o in cell.overrides))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    text = args.cell if args.cell is not None else os.environ.get("SWEEP_CELL", "")
    try:
        entry = json.loads(text)
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict):
            raise ValueError('expected {"id": ..., "values": {...}}')
    except ValueError as exc:
        raise SweepError(f"the cell is not a matrix entry: {exc}: {text[:200]!r}") from exc
    return run_cell(entry, Path(args.out))


def _cmd_report(args: argparse.Namespace) -> int:
    markdown = report(load_cells(Path(args.cells)), args.metric, args.direction)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown, encoding="utf-8")
    if args.summary:
        with open(args.summary, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
    print(markdown)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tabpipe sweep", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("expand", help="check a grid and list its cells (a matrix)")
    ex.add_argument("--grid", help="JSON/YAML mapping param -> values (default: $SWEEP_GRID)")
    ex.add_argument("--grid-file", help="read the grid from this file instead")
    ex.add_argument("--params", default=str(PARAMS_FILE), help="params.yaml to check against")
    ex.add_argument("--max-cells", type=int, default=MAX_CELLS, help="refuse bigger grids")
    ex.add_argument("--github-output", help="append cells=<json> and count=<n> to this file")
    ex.set_defaults(func=_cmd_expand)
    run = sub.add_parser("run", help="run one cell with dvc exp run and collect its results")
    run.add_argument("--cell", help="the matrix entry as JSON (default: $SWEEP_CELL)")
    run.add_argument("--out", required=True, help="folder for cell.json and test.json")
    run.set_defaults(func=_cmd_run)
    rep = sub.add_parser("report", help="gather the cells into one Markdown comparison table")
    rep.add_argument("cells", help="folder holding the cells' results (searched recursively)")
    rep.add_argument("--metric", default="roc_auc", help="the metric that picks the best cell")
    rep.add_argument("--direction", choices=["higher", "lower"], default="higher")
    rep.add_argument("--out", default=str(SWEEP_DIR / "report.md"), help="where to write the table")
    rep.add_argument("--summary", help="also append the table here ($GITHUB_STEP_SUMMARY)")
    rep.set_defaults(func=_cmd_report)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except SweepError as exc:
        print(f"tabpipe sweep: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
