"""The run record: which code, data and params produced this model, when, where, replacing what.

``tabpipe record`` runs after ``dvc repro`` and writes ``reports/run.json``, committed with
the run's other results, so a fresh clone can answer Google's metadata questions for the
model in it (``tabpipe record --show`` prints it as Markdown). It reuses what DVC already
records and adds only what DVC lacks:

- from ``dvc.lock``: each stage's inputs and outputs with their hashes (code, data, model);
- from ``params.yaml``: every parameter value;
- from the data pointers (``*.dvc``): the data version;
- from git: the commit, branch, author, and which pipeline inputs were uncommitted;
- from the environment: who or what ran it (GitHub Actions run and runner, or host);
- from ``build/timings.jsonl`` (written by each stage): start, end and duration of each
  stage that ran. A stage DVC skipped keeps the timing of the run that produced its
  outputs when the previous record has it (``unchanged``); otherwise (first record, or
  outputs restored from DVC's cache) it is ``skipped``, without times;
- the model it replaced: the previous different ``model.onnx`` hash in the git history of
  ``dvc.lock``, and the registry's champion (``reports/champion.json``) it was gated against;
- train and test metrics.

The record is not a DVC output, so writing it never makes ``dvc repro`` re-run anything.
When nothing ran and the lock is unchanged, the record is left as it is.
"""

from __future__ import annotations

import argparse
import getpass
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from tabpipe import __version__
from tabpipe.core import git, timings
from tabpipe.core.dvcfiles import DvcFileError, lock_stages, locked_md5, pointer_out
from tabpipe.core.io import read_json, read_json_object, write_json
from tabpipe.core.paths import CHAMPION_FILE, DVC_LOCK, DVC_YAML, PARAMS_FILE, PATHS, RUN_RECORD

RECORD = RUN_RECORD
LOCK = DVC_LOCK
CHAMPION = CHAMPION_FILE
RECORD_VERSION = 1
NONE = "-"
HISTORY_DEPTH = 200
PACKAGES = ("dvc", "pandas", "pandera", "scikit-learn", "skl2onnx", "onnxruntime")


class RecordError(Exception):
    """The record cannot be written (no dvc.lock yet, or an unreadable one)."""


# --- gathering ----------------------------------------------------------------------------


def _git(*args: str) -> str | None:
    return git.maybe(*args)


def model_md5(stages: Mapping[str, Mapping[str, Any]]) -> str:
    return locked_md5(stages, PATHS.onnx_model) or ""


def read_lock(path: Path = LOCK) -> dict[str, dict[str, Any]]:
    """The stages of dvc.lock (see :func:`tabpipe.core.dvcfiles.lock_stages`)."""
    if not path.is_file():
        raise RecordError(f"{path}: not found; run the pipeline first (make run)")
    try:
        return lock_stages(path.read_text(encoding="utf-8"), str(path))
    except DvcFileError as exc:
        raise RecordError(str(exc)) from exc


def data_versions(root: Path = Path(".")) -> dict[str, Any]:
    """Every data pointer at the top of the project: what it tracks and its hash."""
    versions = {}
    for pointer in sorted(root.glob("*.dvc")):
        if not pointer.is_file():
            continue  # the .dvc folder itself
        try:
            out = pointer_out(pointer.read_text(encoding="utf-8"), str(pointer))
        except DvcFileError:
            continue
        versions[pointer.name] = {k: out[k] for k in ("path", "md5", "size", "nfiles") if k in out}
    return versions


def git_info(stages: Mapping[str, Mapping[str, Any]], env: Mapping[str, str]) -> dict[str, Any]:
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "note": "not a git repository"}
    branch = (
        env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME") or _git("branch", "--show-current")
    )
    author = _git("log", "-1", "--format=%an <%ae>|%cI|%s") or "||"
    name, committed_at, subject = [*author.split("|", 2), "", ""][:3]
    produced = {path for stage in stages.values() for path in stage["outs"]}
    inputs = {path for stage in stages.values() for path in stage["deps"]} - produced
    inputs |= {str(PARAMS_FILE), str(DVC_YAML)}
    changed = (_git("status", "--porcelain", "--untracked-files=no") or "").splitlines()
    uncommitted = sorted(
        line[3:]
        for line in changed
        if any(line[3:] == p or line[3:].startswith(p + "/") for p in inputs)
    )
    return {
        "commit": commit,
        "branch": branch or None,
        "author": name,
        "committed_at": committed_at,
        "subject": subject,
        "uncommitted_inputs": uncommitted,
    }


def executor(env: Mapping[str, str]) -> dict[str, Any]:
    """Who or what ran the pipeline."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    common = {
        "python": platform.python_version(),
        "tabpipe": __version__,
        "packages": versions,
    }
    if env.get("GITHUB_ACTIONS") == "true":
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        run_id = env.get("GITHUB_RUN_ID", "")
        return {
            "kind": "github-actions",
            "workflow": env.get("GITHUB_WORKFLOW", ""),
            "event": env.get("GITHUB_EVENT_NAME", ""),
            "actor": env.get("GITHUB_ACTOR", ""),
            "run_id": run_id,
            "run_attempt": env.get("GITHUB_RUN_ATTEMPT", ""),
            "run_url": f"{server}/{env.get('GITHUB_REPOSITORY', '')}/actions/runs/{run_id}",
            "runner_name": env.get("RUNNER_NAME", ""),
            "runner_os": env.get("RUNNER_OS", ""),
            "runner_arch": env.get("RUNNER_ARCH", ""),
            **common,
        }
    return {
        "kind": "local",
        "host": platform.node(),
        "user": getpass.getuser(),
        "os": platform.platform(terse=True),
        **common,
    }


def previous_model(current: str, lock: Path = LOCK) -> dict[str, Any] | None:
    """The last model.onnx hash in git history that differs from ``current``.

    The working tree's dvc.lock may already hold the new model; HEAD's may hold the same
    one (the run was committed): walk back until the model differs. A shallow clone stops
    where its history does.
    """
    commits = _git("log", f"-{HISTORY_DEPTH}", "--format=%H|%cI", "--", str(lock))
    for line in (commits or "").splitlines():
        sha, _, date = line.partition("|")
        text = _git("show", f"{sha}:{lock.as_posix()}")
        if not text:
            continue
        try:
            md5 = model_md5(lock_stages(text))
        except DvcFileError:
            continue
        if md5 and md5 != current:
            return {"path": str(PATHS.onnx_model), "md5": md5, "commit": sha, "committed_at": date}
    return None


def champion() -> dict[str, Any] | None:
    """The registry's champion the gate compared this model with, if the project has one."""
    if not CHAMPION.is_file():
        return None
    try:
        data = read_json(CHAMPION)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {k: data.get(k) for k in ("artifact", "version", "commit", "note") if k in data}


def _metrics(path: Path) -> dict[str, Any] | None:
    return read_json_object(path)


# --- assembling (pure) --------------------------------------------------------------------


def stage_runs(
    stages: Mapping[str, Mapping[str, Any]],
    executions: Sequence[Mapping[str, Any]],
    previous: Mapping[str, Any] | None,
) -> dict[str, dict[str, Any]]:
    """Each stage's lock entry plus when it ran: now, in the previous run, or unknown."""
    latest = {e["stage"]: e for e in executions}  # the last execution of each stage wins
    before = (previous or {}).get("stages", {})
    out = {}
    for name, lock_entry in stages.items():
        entry: dict[str, Any] = dict(lock_entry)
        if name in latest:
            run = latest[name]
            entry.update(
                status="ran" if run.get("outcome") == "ok" else str(run.get("outcome")),
                started=run["started"],
                ended=run["ended"],
                seconds=run.get("seconds"),
            )
        elif name in before and _same_io(before[name], lock_entry) and before[name].get("started"):
            entry.update(
                status="unchanged",
                started=before[name]["started"],
                ended=before[name]["ended"],
                seconds=before[name].get("seconds"),
            )
        else:
            entry.update(status="skipped", started=None, ended=None, seconds=None)
        out[name] = entry
    return out


def _same_io(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return a.get("deps") == b.get("deps") and a.get("outs") == b.get("outs")


def build(
    *,
    stages: Mapping[str, Mapping[str, Any]],
    executions: Sequence[Mapping[str, Any]],
    previous: Mapping[str, Any] | None,
    params: Mapping[str, Any],
    data: Mapping[str, Any],
    git: Mapping[str, Any],
    runner: Mapping[str, Any],
    replaced: Mapping[str, Any] | None,
    champion_entry: Mapping[str, Any] | None,
    metrics: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    runs = stage_runs(stages, executions, previous)
    ran = [s for s in runs.values() if s["status"] not in {"unchanged", "skipped"}]
    started = min((s["started"] for s in ran), default=None)
    ended = max((s["ended"] for s in ran), default=None)
    seconds = (
        round((datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds(), 3)
        if started and ended
        else None
    )
    current = model_md5(stages)
    return {
        "version": RECORD_VERSION,
        "recorded_at": now.isoformat(timespec="seconds"),
        "run": {"started": started, "ended": ended, "seconds": seconds, "stages_run": len(ran)},
        "code": dict(git),
        "data": dict(data),
        "params": dict(params),
        "executor": dict(runner),
        "model": {"path": str(PATHS.onnx_model), "md5": current},
        "replaced": dict(replaced) if replaced else None,
        "champion": dict(champion_entry) if champion_entry else None,
        "previous_record": _previous_summary(previous),
        "metrics": dict(metrics),
        "stages": runs,
    }


def _previous_summary(previous: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not previous:
        return None
    return {
        "recorded_at": previous.get("recorded_at"),
        "commit": (previous.get("code") or {}).get("commit"),
        "model_md5": (previous.get("model") or {}).get("md5"),
    }


def unchanged(
    previous: Mapping[str, Any] | None, stages: Mapping[str, Any], executions: Sequence[Any]
) -> bool:
    """Nothing ran and the lock matches the record: writing again would only move the date."""
    if not previous or executions:
        return False
    before = previous.get("stages", {})
    return set(before) == set(stages) and all(_same_io(before[n], stages[n]) for n in stages)


# --- rendering ----------------------------------------------------------------------------


def _short(value: Any, n: int = 8) -> str:
    return f"`{str(value)[:n]}`" if value else NONE


def _duration(seconds: Any) -> str:
    if seconds is None:
        return NONE
    seconds = float(seconds)
    return f"{seconds:.1f}s" if seconds < 120 else f"{int(seconds // 60)}m {int(seconds % 60)}s"


def _clock(timestamp: Any) -> str:
    """HH:MM:SS (UTC) of an ISO timestamp, for the stage table."""
    if not timestamp:
        return NONE
    return datetime.fromisoformat(str(timestamp)).astimezone(UTC).strftime("%H:%M:%S")


def markdown(record: Mapping[str, Any]) -> str:
    """The record as Markdown, for the PR report and ``tabpipe record --show``."""
    code, runner, run = (
        record.get("code") or {},
        record.get("executor") or {},
        record.get("run") or {},
    )
    lines = ["### Run record", "", "| | |", "|---|---|"]
    where = f" on `{code['branch']}`" if code.get("branch") else ""
    dirty = code.get("uncommitted_inputs") or []
    code_cell = f"{_short(code.get('commit'), 12)}{where}"
    if dirty:
        code_cell += " + uncommitted " + ", ".join(f"`{p}`" for p in dirty)
    lines.append(f"| code | {code_cell} |")
    for pointer, version in (record.get("data") or {}).items():
        lines.append(
            f"| data | `{pointer}` → `{version.get('path')}` md5 {_short(version.get('md5'))} |"
        )
    model = record.get("model") or {}
    lines.append(f"| model | `{model.get('path')}` md5 {_short(model.get('md5'))} |")
    replaced = record.get("replaced")
    replaced_cell = (
        f"md5 {_short(replaced['md5'])} from commit {_short(replaced['commit'], 12)}"
        if replaced
        else "nothing (first model in this history)"
    )
    lines.append(f"| replaced | {replaced_cell} |")
    champ = record.get("champion")
    if champ:
        champ_cell = (
            f"`{champ.get('artifact')}@{champ['version']}` "
            f"(commit {_short(champ.get('commit'), 12)})"
            if champ.get("version")
            else str(champ.get("note", "none"))
        )
        lines.append(f"| champion (registry `prod`) | {champ_cell} |")
    if runner.get("kind") == "github-actions":
        ran_on = (
            f"GitHub Actions [{runner.get('workflow')} #{runner.get('run_id')}]"
            f"({runner.get('run_url')}), `{runner.get('event')}` by `{runner.get('actor')}`, "
            f"runner `{runner.get('runner_name')}` "
            f"({runner.get('runner_os')}/{runner.get('runner_arch')})"
        )
    else:
        ran_on = f"local: `{runner.get('user')}@{runner.get('host')}` ({runner.get('os')})"
    lines.append(f"| ran on | {ran_on}; Python {runner.get('python')} |")
    when = (
        f"{run.get('started')} → {run.get('ended')} ({_duration(run.get('seconds'))}, "
        f"{run.get('stages_run')} stage(s) ran)"
        if run.get("started")
        else "no stage ran (all outputs unchanged or restored from the DVC cache)"
    )
    lines.append(f"| when | {when} |")
    lines += [
        "",
        "| stage | status | started (UTC) | duration | outputs |",
        "|---|---|---|---:|---|",
    ]
    for name, stage in (record.get("stages") or {}).items():
        outs = ", ".join(f"`{p}` {_short(h)}" for p, h in stage.get("outs", {}).items())
        started = _clock(stage.get("started"))
        cells = [f"`{name}`", str(stage.get("status")), started, _duration(stage.get("seconds"))]
        lines.append("| " + " | ".join([*cells, outs]) + " |")
    metrics = record.get("metrics") or {}
    for split in ("train", "test"):
        values = metrics.get(split)
        if isinstance(values, dict) and values:
            shown = " · ".join(
                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items()
            )
            lines += ["", f"**{split} metrics:** {shown}"]
    lines += ["", f"<sub>Full record, with every param and hash: `{RECORD}`.</sub>"]
    return "\n".join(lines) + "\n"


# --- command ------------------------------------------------------------------------------


def collect(
    env: Mapping[str, str] = os.environ, now: datetime | None = None
) -> tuple[dict[str, Any], bool]:
    """The new record, and whether it differs from the one on disk."""
    stages = read_lock()
    previous = _metrics(RECORD)
    executions = timings.read()
    if unchanged(previous, stages, executions):
        assert previous is not None
        return previous, False
    params = (
        yaml.safe_load(PARAMS_FILE.read_text(encoding="utf-8")) if PARAMS_FILE.is_file() else {}
    )
    record = build(
        stages=stages,
        executions=executions,
        previous=previous,
        params=params or {},
        data=data_versions(),
        git=git_info(stages, env),
        runner=executor(env),
        replaced=previous_model(model_md5(stages)),
        champion_entry=champion(),
        metrics={"train": _metrics(PATHS.train_metrics), "test": _metrics(PATHS.test_metrics)},
        now=now or datetime.now(UTC),
    )
    return record, True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tabpipe record",
        description=(__doc__ or "").split("\n\n")[0]
        + f" Writes {RECORD} after dvc repro (make run).",
    )
    parser.add_argument(
        "--show", action="store_true", help=f"print {RECORD} as Markdown, write nothing"
    )
    args = parser.parse_args(argv)
    if args.show:
        if not RECORD.is_file():
            print(f"[record] ERROR: {RECORD} not found: run `make run` first", file=sys.stderr)
            return 1
        print(markdown(read_json(RECORD)), end="")
        return 0
    try:
        record, changed = collect()
    except RecordError as exc:
        print(f"[record] ERROR: {exc}", file=sys.stderr)
        return 1
    if not changed:
        print(f"[record] nothing ran since the last record: {RECORD} unchanged")
        return 0
    write_json(RECORD, record)
    timings.clear()
    run = record["run"]
    print(
        f"[record] {RECORD}: {run['stages_run']} stage(s) ran, model "
        f"{record['model']['md5'][:8] or '?'} (replaced "
        f"{(record['replaced'] or {}).get('md5', 'nothing')[:8]}), commit "
        f"{(record['code'].get('commit') or '?')[:12]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
