"""Turn this template into your project: your data, target and task, in one command.

``tabpipe init DATA --target COLUMN [--task TASK] [--name NAME]`` checks the data first and
changes nothing if anything is wrong. Then it copies the data into ``data/``, writes an
inferred data contract to review, sets ``params.yaml``, tracks the data with DVC, resets
the template's demo metrics, plots, reports, lock file and registry tags, renames your
project package (``src/<package>``: features and model families) and the project's metadata
in ``pyproject.toml``, and runs the pipeline once. The machinery (``src/tabpipe``) and the
tests are left exactly as the template has them, so template fixes merge cleanly later.
Your source file is only ever read.
"""

from __future__ import annotations

import argparse
import importlib
import json
import keyword
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import yaml

from tabpipe.core import project
from tabpipe.core.config import ConfigError, Params, Task, load_params
from tabpipe.core.contract import check
from tabpipe.core.io import SUPPORTED_SUFFIXES, InputError, read_table
from tabpipe.core.model import ENCODERS
from tabpipe.core.paths import (
    BUNDLED_STORAGE,
    CONTRACTS_DIR,
    DATA_DIR,
    DVC_LOCK,
    DVC_YAML,
    PARAMS_FILE,
    PATHS,
    PROJECT_RECORD,
)
from tabpipe.onboarding.evidence import better_encoding, cross_validate, measure, with_noise
from tabpipe.onboarding.plan import (
    ColumnPlan,
    OnboardingError,
    contract_spec,
    gate_for,
    params_for,
    plan,
)
from tabpipe.pipeline.gate import threshold_notes
from tabpipe.release.champion import refresh as record_champion

CONTRACT = CONTRACTS_DIR / "data.yaml"
DEMO_FILES = (Path("docs/data.md"),)
RESET_DIRS = (Path("metrics"), Path("plots"), Path("reports"), Path("build"), Path("models"))
README = Path("README.md")
README_DATASET = re.compile(r"(<!-- dataset:start -->).*?(<!-- dataset:end -->)", re.DOTALL)
# Loading a table takes several times its size on disk (parsing, Python strings).
MEMORY_FACTOR = {".csv": 6, ".parquet": 10, ".pq": 10}
RESERVED_NAMES = {
    "test",
    "tests",
    "src",
    "data",
    "docs",
    "pandas",
    "numpy",
    "sklearn",
    "dvc",
    "tabpipe",
    "benchmarks",
}
PYPROJECT = Path("pyproject.toml")


class InitError(Exception):
    """init was asked to do something it must not; nothing has been changed."""


@dataclass(frozen=True)
class Request:
    source: Path
    target: str
    task: Task | None
    name: str
    positive_class: str | None
    exclude: tuple[str, ...]
    categorical: tuple[str, ...]
    numeric: tuple[str, ...]
    drop_missing_target: bool
    force: bool
    bundle_data: bool
    run: bool
    group_by: tuple[str, ...] = ()


def say(message: str) -> None:
    print(f"[init] {message}", flush=True)


def package_name(name: str) -> str:
    """A valid, non-clashing Python package name from a project name."""
    candidate = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip()).strip("_").lower()
    if not candidate or not candidate[0].isalpha():
        raise InitError(f"--name {name!r} must start with a letter (it becomes a package name)")
    if (
        keyword.iskeyword(candidate)
        or candidate in RESERVED_NAMES
        or candidate in sys.stdlib_module_names
    ):
        raise InitError(f"--name {name!r} would clash with an existing module name {candidate!r}")
    return candidate


def available_memory() -> int:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return sys.maxsize


def check_fits_in_memory(source: Path, available: int) -> None:
    need = source.stat().st_size * MEMORY_FACTOR.get(source.suffix.lower(), 6)
    if need > available:
        raise InitError(
            f"{source}: {source.stat().st_size / 2**30:.1f} GiB on disk needs about "
            f"{need / 2**30:.1f} GiB of memory to load, and {available / 2**30:.1f} GiB is free; "
            "sample it, or split it into batches and ingest them"
        )


@dataclass(frozen=True)
class Plan:
    frame: pd.DataFrame
    columns: ColumnPlan
    package: str
    contract_text: str
    params_text: str
    raw: Path
    gate_notes: list[str]
    validated: pd.DataFrame  # the data as the contract coerces it (the validate stage's output)


def load_contract_text(text: str) -> pa.DataFrameSchema:
    return pa.DataFrameSchema.from_yaml(text)


def preflight(request: Request, current_package: str) -> Plan:
    """Every check that can fail, before anything changes."""
    for required in (PARAMS_FILE, DVC_YAML):
        if not required.exists():
            raise InitError(f"{required} not found: run init from the project root")
    if PROJECT_RECORD.exists() and not request.force:
        raise InitError(
            f"this project was already initialised (see {PROJECT_RECORD}); "
            "pass --force to initialise it again (your data files are kept)"
        )
    if not request.source.exists():
        raise InitError(f"{request.source}: file not found")
    if request.source.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InitError(f"{request.source}: use a CSV or Parquet file ({SUPPORTED_SUFFIXES})")
    check_fits_in_memory(request.source, available_memory())
    new_package = package_name(request.name)
    if new_package != current_package and Path("src", new_package).exists():
        raise InitError(f"src/{new_package} already exists; choose another --name")
    if shutil.which("dvc") is None:
        raise InitError("dvc is not installed here: run `make setup` first")
    try:
        frame = read_table(request.source)
    except InputError as exc:
        raise InitError(str(exc)) from exc
    if request.drop_missing_target and request.target in frame.columns:
        frame = frame[frame[request.target].notna()].reset_index(drop=True)
    try:
        column_plan = plan(
            frame,
            request.target,
            task=request.task,
            positive_class=request.positive_class,
            exclude=request.exclude,
            categorical=request.categorical,
            numeric=request.numeric,
            group_by=request.group_by,
        )
    except OnboardingError as exc:
        raise InitError(str(exc)) from exc
    for note in column_plan.notes:
        say(note)
    say("columns (pass --categorical/--numeric/--exclude COLUMN to change one):")
    for decision in column_plan.decisions:
        say(f"  {decision.describe()}")
    raw = DATA_DIR / request.source.name
    contract_text, validated = render_contract(frame, column_plan, request.source, new_package)
    params_text, gate_notes = render_params(
        column_plan, validated, raw, current_package, new_package
    )
    return Plan(
        frame, column_plan, new_package, contract_text, params_text, raw, gate_notes, validated
    )


def rename_package(root: Path, old: str, new: str, project_name: str) -> list[Path]:
    """Rename the project package src/<old> to src/<new> and the metadata that names it.

    Only ``src/<old>`` (moved) and ``pyproject.toml`` (the distribution name and the wheel's
    package list) change; ``params.yaml`` names the package too and is written by init.
    """
    changed: list[Path] = []
    if old != new:
        (root / "src" / old).rename(root / "src" / new)
        changed.append(Path("src", new))
    pyproject = root / PYPROJECT
    text = pyproject.read_text(encoding="utf-8")
    renamed = re.sub(r'(?m)^name = "[^"]*"$', f'name = "{project_name}"', text, count=1)
    # The wheel's package list and comments naming the package's folder.
    renamed = re.sub(rf"\bsrc/{re.escape(old)}\b", f"src/{new}", renamed)
    if renamed != text:
        pyproject.write_text(renamed, encoding="utf-8")
        changed.append(PYPROJECT)
    return changed


def distribution_name(name: str) -> str:
    """A PEP 508 distribution name for pyproject.toml from the project name."""
    return re.sub(r"[^0-9A-Za-z]+", "-", name.strip()).strip("-").lower() or "project"


class ParamsDumper(yaml.SafeDumper):
    """Block-style sections with one-line lists, like the hand-written params.yaml."""


def _flow_list(dumper: yaml.SafeDumper, values: list) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", values, flow_style=True)


ParamsDumper.add_representer(list, _flow_list)


def render_params(
    column_plan: ColumnPlan, frame: pd.DataFrame, raw: Path, current: str, package: str
) -> tuple[str, list[str]]:
    """params.yaml for the new data, naming the renamed package (checked against the current
    one, which is the same code under its template name until init renames it), and the
    reasons for its gate's value thresholds.

    The gate comes from evidence: the default model and a guess, cross-validated on the
    training split of ``frame`` (the data as the contract coerces it)."""
    template = yaml.safe_load(PARAMS_FILE.read_text(encoding="utf-8"))
    code = project.load(current)
    categories = {name: int(frame[name].nunique()) for name in column_plan.categorical}
    params = params_for(
        column_plan,
        template,
        raw=raw.as_posix(),
        contract=CONTRACT.as_posix(),
        rows=len(frame),
        categories=categories,
    )
    # The template's settings for the default family are tuned for the demo data: a new
    # project starts from the family's own defaults (models.py), written out for review.
    default = code.default_family
    settings = code.family(default).settings().model_dump(mode="json")
    params["train"] = {**params.get("train", {}), "family": default, default: settings}
    header = (
        "# Every knob of the pipeline, grouped by the stage that reads it (written by init).\n"
        "# Change a value, run `make run`, compare with `dvc params diff` / `dvc metrics diff`.\n"
        "# data.task: binary | multiclass | regression\n"
        f"# train.family: {' | '.join(code.families)} (src/{package}/models.py)\n\n"
    )

    def typed_with(encoding: str | None) -> Params:
        if encoding is not None:
            params["train"][default]["encode_categories"] = encoding
        try:
            return Params.model_validate({**params, "project": {"package": current}})
        except ValueError as exc:
            raise InitError(f"the params init would write do not validate: {exc}") from exc

    say(
        f"measuring what the first model must beat: {code.default_family} and a guess that "
        f"ignores the features, cross-validated on the training split"
    )
    # A family whose settings offer the choice (HistGradientBoosting) gets the encoding of
    # its categories that cross-validates better on this data; one-hot wins a tie.
    offered = column_plan.categorical and "encode_categories" in settings
    encodings = tuple(ENCODERS) if offered else ()
    if encodings:
        folds = {name: cross_validate(frame, typed_with(name)) for name in encodings}
        chosen, why = better_encoding(
            column_plan.task, {name: None if f is None else f.evidence for name, f in folds.items()}
        )
        say(f"categories fed to {default} as {why} (train.{default}.encode_categories)")
        params["train"][default]["encode_categories"] = chosen
        written = folds[chosen]  # the test split's noise only for the encoding written
        evidence = None if written is None else with_noise(written)
    else:
        evidence = measure(frame, typed_with(None))
    slices = bool(params["evaluate"]["slice_by"])
    params["gate"] = gate_for(column_plan.task, sliced=slices, evidence=evidence)
    notes = (
        threshold_notes(column_plan.task, evidence)
        if evidence is not None
        else [
            "a class has a single training row, too few to cross-validate: the gate keeps "
            "fixed floors (ROC AUC >= 0.6) and change thresholds; set value thresholds by hand"
        ]
    )
    params = {
        "project": {"package": package},
        **{k: v for k, v in params.items() if k != "project"},
    }
    body = yaml.dump(params, Dumper=ParamsDumper, sort_keys=False, allow_unicode=True, width=100)
    return header + body, notes


def render_contract(
    frame: pd.DataFrame, column_plan: ColumnPlan, source: Path, name: str
) -> tuple[str, pd.DataFrame]:
    """The inferred contract's text, and the data as it coerces them (the validate stage's
    output), after checking that it accepts the data it came from."""
    spec = contract_spec(frame, column_plan, name)
    header = textwrap.dedent(
        f"""\
        # Data contract for {source.name}, inferred by `init` with pandera from {len(frame)} rows.
        # REVIEW IT: ranges are the observed ones widened by 10% and rounded outward,
        # categories are the observed values (integer codes stay integers, an ordered
        # category keeps its order), booleans are pandas' nullable `boolean`, nullable columns
        # may hold at most twice the observed share of nulls (max_null_fraction), and
        # min_rows is half the rows seen. Tighten or widen each rule to what real data may
        # contain; every rule stops the pipeline when broken.
        """
    )
    text = header + yaml.dump(
        spec, Dumper=ParamsDumper, sort_keys=False, allow_unicode=True, width=100
    )
    report, validated = check(
        frame, load_contract_text(text), source=str(source), contract="inferred"
    )
    if not report.ok or validated is None:
        raise InitError(
            f"the inferred contract rejects the data it was inferred from:\n{report.summary()}"
        )
    return text, validated


def copy_data(
    request: Request, frame: pd.DataFrame, destination: Path, previous_raw: Path | None
) -> Path:
    DATA_DIR.mkdir(exist_ok=True)
    if request.drop_missing_target and destination.suffix.lower() == ".csv":
        frame.to_csv(destination, index=False)
    elif request.drop_missing_target:  # Parquet keeps its types (booleans, ordered categories)
        frame.to_parquet(destination, index=False)
    elif request.source.resolve() != destination.resolve():
        shutil.copyfile(request.source, destination)
    if previous_raw is not None and previous_raw.resolve() != destination.resolve():
        if previous_raw.exists() and not request.force:
            previous_raw.unlink()  # the template's demo data, not the user's
            say(f"removed the template's demo data {previous_raw}")
        elif previous_raw.exists():
            say(f"kept {previous_raw} (data from an earlier init); delete it if unneeded")
    return destination


def reset_template_outputs(root: Path) -> None:
    """Delete the template's outputs, keeping each folder's ``.gitignore``.

    The ignore files list the cached outputs (build/*.parquet, models/*), whose paths are
    the same in every project. DVC adds such entries during ``dvc repro`` but takes back the
    ones it added if the run fails (``dvc.repo.scm_context``), so a first run that the gate
    stops would leave the model and the splits untracked and not ignored: the "git add -A"
    of the next steps would commit them to git, and a fresh clone's ``dvc repro`` would
    refuse outputs "already tracked by SCM".
    """
    for directory in RESET_DIRS:
        ignore = root / directory / ".gitignore"
        kept = ignore.read_bytes() if ignore.is_file() else None
        shutil.rmtree(root / directory, ignore_errors=True)
        if kept is not None:
            ignore.parent.mkdir(parents=True, exist_ok=True)
            ignore.write_bytes(kept)
    for path in (root / DVC_LOCK, *(root / f for f in DEMO_FILES)):
        path.unlink(missing_ok=True)
    storage = root / BUNDLED_STORAGE
    if storage.exists():
        shutil.rmtree(storage)
    tags = subprocess.run(
        ["git", "tag", "--list", "model@*", "model#*"], cwd=root, capture_output=True, text=True
    )
    names = tags.stdout.split() if tags.returncode == 0 else []
    if names:
        subprocess.run(["git", "tag", "-d", *names], cwd=root, capture_output=True, check=True)
        say(f"deleted local registry tags: {', '.join(names)} (delete them on your remote too)")
    say("reset metrics/, plots/, reports/, dvc.lock and the bundled DVC remote")


# DVC's closing hints after `dvc repro` assume a remote and a habit this project does not
# have yet (init stages nothing; its "Next" list says what to commit and how to add a
# remote): "To track the changes with git, run: ... To enable auto staging, run: dvc config
# core.autostage true" (no setting turns it off) and "Use `dvc push` to send your updates to
# remote storage." (printed unconditionally by `dvc repro`).
HINT_START = "To track the changes with git, run:"
HINT_END = "dvc config core.autostage true"
PUSH_HINT = "Use `dvc push` to send your updates to remote storage."


def without_dvc_hints(lines: Iterable[str]) -> Iterator[str]:
    """The lines of a DVC command's output, minus its git-add and dvc-push hints."""
    hiding = False
    for line in lines:
        text = line.strip()
        if text == HINT_START:
            hiding = True
        if not hiding and text != PUSH_HINT:
            yield line
        if hiding and text == HINT_END:
            hiding = False


def run(args: list[str], *, check: bool = True) -> int:
    """Run a command, its output shown as it comes (DVC's hints left out)."""
    say("$ " + shlex.join(args))
    with subprocess.Popen(
        args,
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        bufsize=1,
    ) as process:
        assert process.stdout is not None
        for line in without_dvc_hints(process.stdout):
            print(line, end="", flush=True)
    if check and process.returncode != 0:
        raise InitError(f"`{shlex.join(args)}` exited {process.returncode}")
    return process.returncode


def relock(uv: str) -> None:
    """Update uv.lock for the renamed project, offline when uv's cache allows.

    Only the project's own entry changes (its name); every dependency keeps its locked
    version. The cache `make setup` filled holds what uv needs for that, so offline it takes
    a fraction of a second, where online uv asks the index about each of ~200 packages
    (2 minutes measured here). Online only when the cache lacks something (a cleaned cache).
    """
    offline = [uv, "lock", "--offline", "--quiet"]
    say("$ " + shlex.join(offline))
    done = subprocess.run(offline, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        say("uv's cache lacks something the lock needs; locking online")
        run([uv, "lock", "--quiet"])


def uv_command(root: Path) -> str | None:
    """The uv that installed this project: $UV (make passes it), .tools/bin/uv, or PATH's."""
    for candidate in (os.environ.get("UV"), str(root / ".tools" / "bin" / "uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    return shutil.which("uv")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_record(
    request: Request, column_plan: ColumnPlan, package: str, raw: Path, gate_notes: list[str]
) -> None:
    """docs/project.md: what init was given and what it decided, for review and for git."""
    notes = [f"- {note}" for note in column_plan.notes] or ["- none"]
    columns = [
        f"| `{_cell(d.column)}` | {d.shown} | {_cell(d.why)} |" for d in column_plan.decisions
    ]
    lines = [
        f"# {request.name}",
        "",
        "Created from the tabpipe template with `init`.",
        "",
        "| | |",
        "|---|---|",
        f"| data | `{raw.as_posix()}` (from `{request.source.name}`), tracked by `data.dvc` |",
        f"| target | `{_cell(column_plan.target)}` |",
        f"| task | {column_plan.task.value} |",
        f"| positive class | {column_plan.positive_class or 'n/a'} |",
        f"| numeric features | {len(column_plan.numeric)} |",
        f"| categorical features | {len(column_plan.categorical)} |",
        f"| package | `src/{package}` (your model families) |",
        "",
        "What init decided for you:",
        "",
        *notes,
        "",
        "Each column (change one with `--categorical`, `--numeric` or `--exclude` and init again"
        " with `--force`):",
        "",
        "| column | becomes | why |",
        "|---|---|---|",
        *columns,
        "",
        "The model gate's thresholds (`params.yaml`, `gate`), from this data:",
        "",
        *(f"- {note}" for note in gate_notes),
        "",
        "Review next: `contracts/data.yaml` (the data contract), `params.yaml` (features,",
        "model family, slices, gate), then commit everything init changed.",
        "",
    ]
    PROJECT_RECORD.parent.mkdir(exist_ok=True)
    PROJECT_RECORD.write_text("\n".join(lines), encoding="utf-8")


def replace_readme_dataset(package: str, request: Request, raw: Path) -> None:
    if not README.exists():
        return
    text = README.read_text(encoding="utf-8")
    section = (
        f"\\1\n## The data\n\n`{raw.as_posix()}` (from `{request.source.name}`), tracked by "
        f"`data.dvc`. See `{PROJECT_RECORD.as_posix()}` for what `init` decided and what to "
        "review, and `contracts/data.yaml` for the data contract.\n\\2"
    )
    README.write_text(README_DATASET.sub(section, text), encoding="utf-8")


# The docs' one-row request to the service (README.md or docs/*.md): its JSON body names
# the demo's columns until init writes one of the user's rows there.
SERVING_EXAMPLE = re.compile(
    r"(curl -s localhost:8000/predict -H 'content-type: application/json' -d ')(\{.*?\})(')",
    re.DOTALL,
)


def example_request(frame: pd.DataFrame, column_plan: ColumnPlan) -> str:
    """A real row's features as the service takes them (JSON types; shell-quote-safe),
    wrapped for reading: the most complete row of the data."""
    features = frame[column_plan.features]
    row = features.loc[features.notna().sum(axis=1).idxmax()]
    values = json.loads(features.loc[[row.name]].to_json(orient="records"))[0]
    items = [f"{json.dumps(k, ensure_ascii=False)}: {json.dumps(v)}" for k, v in values.items()]
    lines, current = [], "{"
    for item in items:
        piece = item if current == "{" else f" {item}"
        if len(current) + len(piece) > 86 and current != "{":
            lines.append(current)
            current = f"  {item}"
        else:
            current += piece
        current += ","
    text = "\n".join([*lines, current.rstrip(",") + "}"])
    return text.replace("'", "'\\''")  # inside the shell's single quotes


def replace_serving_example(root: Path, body: str) -> list[Path]:
    """Put ``body`` in the docs' example request; the files changed."""
    changed = []
    for path in [root / README, *sorted((root / "docs").glob("*.md"))]:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        replaced = SERVING_EXAMPLE.sub(lambda m: m.group(1) + body + m.group(3), text)
        if replaced != text:
            path.write_text(replaced, encoding="utf-8")
            changed.append(path.relative_to(root))
    return changed


def initialise(request: Request) -> int:
    root = Path.cwd()
    # Subprocesses (dvc, and the stages it runs) use this environment's tools.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    try:
        current_package = load_params().project.package
    except ConfigError as exc:
        raise InitError(f"{exc} (init reads the template's params.yaml first)") from exc
    chosen = preflight(request, current_package)
    frame, column_plan, new_package = chosen.frame, chosen.columns, chosen.package
    previous_raw = load_params().data.raw
    name = distribution_name(request.name)

    reset_template_outputs(root)
    record_champion(root, fetch=False)  # no version in prod: the gate applies value thresholds
    raw = copy_data(request, frame, chosen.raw, previous_raw)
    say(f"data: {raw} ({len(frame)} rows, {len(column_plan.features)} features)")
    CONTRACT.parent.mkdir(parents=True, exist_ok=True)
    CONTRACT.write_text(chosen.contract_text, encoding="utf-8")
    say(f"wrote the inferred contract {CONTRACT}: review it")
    PARAMS_FILE.write_text(chosen.params_text, encoding="utf-8")
    say(f"wrote {PARAMS_FILE}: {column_plan.task.value}, target {column_plan.target!r}")
    run(["dvc", "add", "--quiet", str(DATA_DIR)])
    if request.bundle_data:
        run(["dvc", "push", "--quiet", "-r", "bundled", str(DATA_DIR) + ".dvc"])
        say(f"pushed the data into {BUNDLED_STORAGE}: it is committed with git (public data only)")
    for note in chosen.gate_notes:
        say(f"gate: {note}")
    write_record(request, column_plan, new_package, raw, chosen.gate_notes)
    replace_readme_dataset(new_package, request, raw)
    for path in replace_serving_example(root, example_request(chosen.validated, column_plan)):
        say(f"{path}: the serving example now sends one of your rows")
    changed = rename_package(root, current_package, new_package, name)
    if current_package != new_package:
        say(f"your code: src/{current_package} -> src/{new_package} (model families)")
    importlib.invalidate_caches()
    uv = uv_command(root)
    if changed and uv is None:
        raise InitError(
            "pyproject.toml changed but uv was not found to update uv.lock: run `make setup` "
            "(it installs uv into .tools/), then init again with --force"
        )
    if uv and changed:
        relock(uv)
        run([uv, "sync", "--locked", "--quiet"])
    if request.run:
        code = run(["dvc", "repro"], check=False)
        refusal = first_model_refusal(PATHS.gate_verdict, new_package) if code else None
        if code and refusal is None:
            raise InitError(f"`dvc repro` exited {code}")
        run(
            ["dvc", "metrics", "show", str(PATHS.train_metrics), str(PATHS.test_metrics)],
            check=False,
        )
        if refusal is not None:
            print(refusal, file=sys.stderr, flush=True)
            print(next_steps(request, new_package), flush=True)
            return 1
    print(next_steps(request, new_package), flush=True)
    return 0


def first_model_refusal(verdict_file: Path, package: str) -> str | None:
    """What to say when the first ``dvc repro`` stopped because the gate refused the model;
    None if it stopped for another reason (no verdict, or a blessed one: init reset reports/
    before the run, so a verdict there is this run's).

    The project is set up either way: the refusal is the gate doing its job on a table whose
    features barely predict the target (the gate notes above said what to expect).
    """
    try:
        verdict = json.loads(verdict_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(verdict, dict) or verdict.get("blessed", True):
        return None
    failed = [c for c in verdict.get("checks", []) if isinstance(c, dict) and not c.get("passed")]
    checks = "; ".join(
        f"{c.get('metric')} [{c.get('slice')}] {c.get('value')} (needs {c.get('threshold')})"
        for c in failed
    )
    return textwrap.dedent(
        f"""
        [init] the project is set up, but the gate refused its first model: {checks}.
        [init] The pipeline ran to the end; the verdict is in {PATHS.gate_summary}. The
        [init] thresholds (the notes above say where each came from) ask for a model clearly
        [init] better than a guess that ignores the features and close to what the default
        [init] model scored across folds: `make run` and the PR check fail until one passes
        [init] (`make test` skips, saying why, the tests that need a blessed model). To try:
        [init]   - features that carry more signal (src/{package}/features.py, params.yaml
        [init]     features:), or another model family (params.yaml train.family), then make run;
        [init]   - or, if the refused model is good enough for your use, lower the gate's
        [init]     thresholds in params.yaml (gate:), or set gate.fail_on_reject: false to
        [init]     record refusals without failing the pipeline (docs/releasing.md, "The gate")."""
    ).strip("\n")


def next_steps(request: Request, package: str) -> str:
    if request.bundle_data:
        remote = ["the data is in the bundled remote .dvc/storage, committed with git"]
    else:
        remote = [
            "the data is only in your DVC cache: give CI and teammates a remote, e.g.",
            "   dvc remote add -d storage s3://BUCKET/PATH && dvc push",
            "   (or run init again with --force --bundle-data for small public data)",
        ]
    lines = [
        "",
        "Done. Next:",
        f"  1. Review contracts/data.yaml and params.yaml ({PROJECT_RECORD} says what init chose).",
        f"  2. {remote[0]}",
        *(f"  {line}" for line in remote[1:]),
        "  3. make test",
        f"  4. git add -A && git commit -m {shlex.quote(f'Initialise {request.name}')}",
        f"Your code (features, model families) is in src/{package}; the command is `tabpipe`.",
    ]
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tabpipe init",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", type=Path, help="your table: a .csv or .parquet file")
    p.add_argument("--target", required=True, help="the column to predict")
    p.add_argument(
        "--task",
        choices=[t.value for t in Task],
        help="binary, multiclass or regression (default: inferred from the target, and said so)",
    )
    p.add_argument("--name", help="project name; becomes the package name (default: the file name)")
    p.add_argument("--positive-class", help="binary only: the label that counts as positive")
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="COLUMN",
        help="leave a column out of the features (repeatable), e.g. free text or IDs",
    )
    p.add_argument(
        "--categorical",
        action="append",
        default=[],
        metavar="COLUMN",
        help="use a column as a category (repeatable), e.g. integer codes init took as numbers",
    )
    p.add_argument(
        "--numeric",
        action="append",
        default=[],
        metavar="COLUMN",
        help="use a column as a number (repeatable), e.g. integer codes that are amounts",
    )
    p.add_argument(
        "--group-by",
        action="append",
        default=[],
        metavar="COLUMN",
        help="a column naming groups of rows (a person, a household) that the split keeps on "
        "one side (repeatable; default: a column whose name and runs of rows say so)",
    )
    p.add_argument(
        "--drop-missing-target", action="store_true", help="drop rows whose target is missing"
    )
    p.add_argument(
        "--bundle-data",
        action="store_true",
        help="push the data into the in-repo DVC remote .dvc/storage (public data only)",
    )
    p.add_argument(
        "--force", action="store_true", help="initialise again a project already initialised"
    )
    p.add_argument(
        "--no-run", action="store_true", help="set everything up but do not run the pipeline"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    request = Request(
        source=args.data,
        target=args.target,
        task=Task(args.task) if args.task else None,
        name=args.name or args.data.stem,
        positive_class=args.positive_class,
        exclude=tuple(args.exclude),
        categorical=tuple(args.categorical),
        numeric=tuple(args.numeric),
        group_by=tuple(args.group_by),
        drop_missing_target=args.drop_missing_target,
        force=args.force,
        bundle_data=args.bundle_data,
        run=not args.no_run,
    )
    try:
        return initialise(request)
    except InitError as exc:
        print(f"[init] ERROR: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
