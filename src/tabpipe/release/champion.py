"""Find the champion in the git registry and record it for the gate (run before dvc repro).

The champion is the model version assigned to ``prod`` (GTO tags); its metrics are
``metrics/test.json`` and ``metrics/slices.json`` at the commit that version registers, read
with ``git show``. They go to ``reports/champion.json``, a dependency of the ``gate``
stage: a new champion re-runs the gate, an unchanged one leaves ``dvc repro`` a no-op.
``dvc repro`` itself never touches the network; this step fetches the registry tags from
``origin`` first (best effort; ``--offline`` skips it).

If the fetch fails and no champion is known locally, the champion already recorded in
``reports/champion.json`` is kept rather than silently replaced by "no champion", which
would let a worse model through on value thresholds alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tabpipe.core.io import write_json
from tabpipe.core.paths import CHAMPION_FILE, PATHS
from tabpipe.release.registry import (
    ARTIFACT,
    PROD,
    RegistryError,
    fetch_tags,
    has_remote,
    prod,
    read_at,
)


def _json_at(repo: Path, commit: str, path: Path) -> Any:
    text = read_at(repo, commit, path.as_posix())
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RegistryError(f"{path} at {commit[:12]} is not valid JSON: {exc}") from exc


def resolve(repo: Path) -> dict[str, Any]:
    """What ``reports/champion.json`` should say, from the local git tags alone."""
    current = prod(repo)
    if current is None:
        return {
            "artifact": ARTIFACT,
            "version": None,
            "note": f"nothing is assigned to {PROD} in the git registry yet",
        }
    metrics = _json_at(repo, current.commit, PATHS.test_metrics)
    if not isinstance(metrics, dict):
        raise RegistryError(
            f"the champion {ARTIFACT}@{current.version} registers commit {current.commit[:12]}, "
            f"which has no {PATHS.test_metrics} in git: its metrics cannot be compared"
        )
    slices = _json_at(repo, current.commit, PATHS.slice_metrics)
    return {
        "artifact": ARTIFACT,
        "version": current.version,
        "commit": current.commit,
        "metrics": metrics,
        "slices": slices if isinstance(slices, dict) else {},
    }


def _recorded(path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def refresh(
    repo: Path = Path("."),
    out: Path = CHAMPION_FILE,
    *,
    fetch: bool = True,
    remote: str = "origin",
    env: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Write ``out`` (only if its content changes); return it and any warnings."""
    warnings: list[str] = []
    fetch_failed = False
    if fetch and has_remote(repo, remote):
        try:
            fetch_tags(repo, remote, os.environ if env is None else env)
        except RegistryError as exc:
            fetch_failed = True
            warnings.append(f"could not fetch the registry tags from {remote}: {exc}")
    champion = resolve(repo)
    recorded = _recorded(repo / out)
    if champion["version"] is None and fetch_failed and recorded and recorded.get("version"):
        warnings.append(
            f"keeping the champion recorded in {out} ({recorded['version']}): the registry "
            "could not be read from the remote, and no champion is known locally"
        )
        return recorded, warnings
    if recorded != champion:
        write_json(repo / out, champion)
    return champion, warnings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tabpipe champion", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--offline", action="store_true", help="use local tags; no git fetch")
    parser.add_argument("--remote", default="origin", help="where to fetch tags (default: origin)")
    args = parser.parse_args(argv)
    try:
        champion, warnings = refresh(fetch=not args.offline, remote=args.remote)
    except RegistryError as exc:
        print(f"[champion] ERROR: {exc}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(f"[champion] WARNING: {warning}", file=sys.stderr)
    if champion.get("version"):
        print(
            f"[champion] {ARTIFACT}@{champion['version']} is in {PROD} "
            f"(commit {str(champion.get('commit', ''))[:12]}): the gate compares with it"
        )
    else:
        print(f"[champion] no version in {PROD} yet: the gate applies value thresholds only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
