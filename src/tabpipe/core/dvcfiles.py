"""DVC's files read back: file digests, ``.dvc`` pointers and ``dvc.lock``.

One place for each: the md5 DVC would record for a file, the first output of a pointer
such as ``data.dvc``, and the per-stage hashes of ``dvc.lock``. Only the standard library is
imported at load time (PyYAML when a file is parsed), so CI jobs that run before the
project is installed, and the serving image, can use it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tabpipe.core.paths import DVC_LOCK

CHUNK = 1 << 20


class DvcFileError(Exception):
    """A pointer or lock file is missing or is not what DVC writes."""


def file_md5(path: Path) -> str:
    """The md5 of a file's bytes, as DVC records it for a file output."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _yaml(text: str, source: str) -> Any:
    import yaml  # only when a file is parsed: importing this module needs the stdlib alone

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DvcFileError(f"{source}: not valid YAML: {exc}") from exc


def pointer_out(text: str, source: str = "pointer") -> dict[str, Any]:
    """The first output a ``.dvc`` pointer records (path, md5, size, nfiles)."""
    loaded = _yaml(text, source)
    outs = loaded.get("outs") if isinstance(loaded, dict) else None
    if not isinstance(outs, list) or not outs or not isinstance(outs[0], dict):
        raise DvcFileError(f"{source}: no outs: is it a DVC pointer?")
    return dict(outs[0])


def pointer_md5(pointer: Path) -> str | None:
    """The md5 a pointer file records for its data, or None without a readable pointer."""
    try:
        md5 = pointer_out(pointer.read_text(encoding="utf-8"), str(pointer)).get("md5")
    except (OSError, DvcFileError):
        return None
    return str(md5) if md5 else None


def lock_stages(lock_text: str | None, source: str = str(DVC_LOCK)) -> dict[str, dict[str, Any]]:
    """Per stage of ``dvc.lock``: its command and the hash of each dependency and output."""

    def hashes(entries: Sequence[Mapping[str, Any]] | None) -> dict[str, str]:
        return {str(e["path"]): str(e.get("md5") or e.get("hash") or "") for e in entries or []}

    if not lock_text:
        return {}
    lock = _yaml(lock_text, source) or {}
    if not isinstance(lock, dict):
        raise DvcFileError(f"{source}: not a DVC lock file")
    return {
        str(name): {
            "cmd": stage.get("cmd", ""),
            "deps": hashes(stage.get("deps")),
            "outs": hashes(stage.get("outs")),
        }
        for name, stage in (lock.get("stages") or {}).items()
    }


def locked_md5(stages: Mapping[str, Mapping[str, Any]], path: str | Path) -> str | None:
    """The hash ``dvc.lock`` records for one output (None if no stage writes it)."""
    for stage in stages.values():
        if str(path) in stage["outs"]:
            return str(stage["outs"][str(path)])
    return None
