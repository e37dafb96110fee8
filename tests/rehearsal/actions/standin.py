#!/usr/bin/env python3
"""The stand-ins' logic: ``python3 standin.py VERB``, inputs in the environment.

Each ``action.yml`` beside this file is a composite action that maps its inputs to
environment variables and calls one verb here. They share three folders that the rehearsal
passes with ``act --env``: REHEARSAL_CACHE_DIR (the cache), REHEARSAL_ARTIFACT_DIR (one
rehearsal's artifacts) and REHEARSAL_RECORD_DIR (what the stand-in ``cml`` was asked).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def fail(message: str) -> None:
    print(f"::error title=stand-in::{message}", flush=True)
    sys.exit(1)


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        fail(f"{name} is not set (run this through tests/rehearsal)")
    return value  # type: ignore[return-value]


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def set_output(name: str, value: str) -> None:
    with open(env("GITHUB_OUTPUT"), "a", encoding="utf-8") as handle:
        handle.write(f"{name}={value}\n")


def workspace() -> Path:
    return Path(env("GITHUB_WORKSPACE"))


def copy_into(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True, symlinks=True)
    elif source.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


# --- actions/checkout, actions/setup-python -----------------------------------------------


def checkout() -> None:
    if env("PERSIST").lower() != "false":
        fail("actions/checkout must set persist-credentials: false")
    print("stand-in checkout: act copied the work tree; persist-credentials is false")


def setup_python() -> None:
    wanted = env("WANTED")
    actual = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    if not (actual == wanted or actual.startswith(wanted + ".")):
        fail(f"the workflow asks for Python {wanted}; this host's python3 is {actual}")
    print(f"stand-in setup-python: host python3 {actual} matches {wanted}")


# --- actions/cache ------------------------------------------------------------------------


def _entry(key: str) -> Path:
    return Path(env("REHEARSAL_CACHE_DIR")) / re.sub(r"[^A-Za-z0-9._-]", "_", key)


def _workspace_paths() -> list[str]:
    kept = []
    for path in lines(env("CACHE_PATHS")):
        if path.startswith(("~", "/", "$")):
            print(f"stand-in cache: {path} is on the host, shared by every run in host mode")
        else:
            kept.append(path)
    return kept


def cache_restore() -> None:
    key = env("CACHE_KEY")
    set_output("cache-primary-key", key)
    entries = [p for p in Path(env("REHEARSAL_CACHE_DIR")).glob("*") if (p / "key").is_file()]
    keyed = {(p / "key").read_text(encoding="utf-8"): p for p in entries}
    match, exact = keyed.get(key), True
    if match is None:
        exact = False
        for prefix in lines(env("CACHE_RESTORE_KEYS", "")):
            candidates = [p for k, p in keyed.items() if k.startswith(prefix)]
            if candidates:
                match = max(candidates, key=lambda p: (p / "key").stat().st_mtime)
                break
    if match is None:
        print(f"stand-in cache: miss for {key}")
        set_output("cache-hit", "false")
        return
    matched_key = (match / "key").read_text(encoding="utf-8")
    for path in _workspace_paths():
        copy_into(match / "files" / path, workspace() / path)
    print(f"stand-in cache: restored {matched_key} ({'exact' if exact else 'prefix'} match)")
    set_output("cache-hit", "true" if exact else "false")
    set_output("cache-matched-key", matched_key)


def cache_save() -> None:
    key = env("CACHE_KEY")
    target = _entry(key)
    if target.exists():
        print(f"stand-in cache: {key} already saved; caches are immutable")
        return
    staging = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    for path in _workspace_paths():
        copy_into(workspace() / path, staging / "files" / path)
    staging.mkdir(parents=True, exist_ok=True)
    (staging / "key").write_text(key, encoding="utf-8")
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another run saved the same key first
    print(f"stand-in cache: saved {key}")


# --- actions/upload-artifact, actions/download-artifact -----------------------------------


def upload_artifact() -> None:
    name = env("ARTIFACT_NAME")
    target = Path(env("REHEARSAL_ARTIFACT_DIR")) / name
    if target.exists():
        fail(f"an artifact named {name} was already uploaded in this run")
    sources = [workspace() / p for p in lines(env("ARTIFACT_PATH"))]
    found = [s for s in sources if s.exists()]
    if not found:
        mode = env("IF_NO_FILES_FOUND", "warn")
        if mode == "error":
            fail(f"no files found for artifact {name}")
        print(f"::warning title=stand-in::no files found for artifact {name}")
        return
    for source in found:
        copy_into(source, target if source.is_dir() and len(found) == 1 else target / source.name)
    print(f"stand-in upload-artifact: {name} <- {', '.join(str(s) for s in found)}")


def download_artifact() -> None:
    name = env("ARTIFACT_NAME")
    source = Path(env("REHEARSAL_ARTIFACT_DIR")) / name
    if not source.is_dir():
        fail(f"Artifact not found: {name}")
    copy_into(source, workspace() / env("ARTIFACT_PATH", "."))
    print(f"stand-in download-artifact: {name} -> {env('ARTIFACT_PATH', '.')}")


VERBS = {
    "checkout": checkout,
    "setup-python": setup_python,
    "cache-restore": cache_restore,
    "cache-save": cache_save,
    "upload-artifact": upload_artifact,
    "download-artifact": download_artifact,
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in VERBS:
        fail(f"usage: standin.py {{{','.join(VERBS)}}}")
    VERBS[sys.argv[1]]()
