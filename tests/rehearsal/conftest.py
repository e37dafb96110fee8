"""Fixtures for the act rehearsals: a fresh 'GitHub' origin per test, one shared cache."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.rehearsal.harness import ROOT, Origin, Rehearsal
from tests.support.fake_github import FakeGitHub, serving


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Rehearsals run when asked for (`make rehearse`, `-m rehearsal`, or this folder).

    They take many minutes, so `make test` (and so .ci/run) leaves them out (pytest reports
    them as deselected); `make rehearse` runs them. The marker is registered in
    pyproject.toml, so `-m "not rehearsal"` works on any folder.
    """
    here = Path(__file__).parent
    asked = "rehearsal" in (config.option.markexpr or "") or any(
        Path(arg.split("::")[0]).resolve().is_relative_to(here) for arg in config.args
    )
    if asked:
        return
    kept = [item for item in items if item.get_closest_marker("rehearsal") is None]
    dropped = [item for item in items if item.get_closest_marker("rehearsal") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stand-in Actions cache, shared by every rehearsal of this pytest run.

    Like the real cache, it carries the DVC cache (and run-cache) from one run to the next,
    so later rehearsals restore unchanged stages instead of retraining.
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # one folder for all workers of this run
    cache = base / "rehearsal-actions-cache"
    cache.mkdir(exist_ok=True)
    return cache


@pytest.fixture
def origin(tmp_path: Path) -> Origin:
    return Origin.create(tmp_path)


@pytest.fixture
def rehearsal(
    tmp_path: Path, shared_cache: Path, request: pytest.FixtureRequest
) -> Iterator[Rehearsal]:
    """Runs act against a loopback stand-in for GitHub's API (``rehearsal.github``).

    With TABPIPE_REHEARSAL_KEEP=DIR set, each run's rendered Markdown is kept in
    DIR/<test file>/<test name>/run-<event>-<job>-<n>/ (see ActRun.keep).
    """
    runs = tmp_path / "runs"
    runs.mkdir()
    name = f"{request.node.path.stem}/{request.node.name}"
    with serving(FakeGitHub()) as github:
        yield Rehearsal(runs, shared_cache, name=name, github=github)


@dataclass(frozen=True)
class S3:
    """A team's real DVC remote, played by moto's S3 server on loopback."""

    endpoint: str
    bucket: str

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )

    def keys(self) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


CREDENTIALS = {"AWS_ACCESS_KEY_ID": "rehearsal-key", "AWS_SECRET_ACCESS_KEY": "rehearsal-secret"}


@pytest.fixture
def s3_remote(tmp_path: Path) -> Iterator[S3]:
    """moto_server on a free loopback port, with one empty bucket; stopped afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = shutil.which("moto_server", path=str(ROOT / ".venv" / "bin"))
    assert server, "moto_server is missing: run `make setup` (moto[server] is a dev dependency)"
    log = (tmp_path / "moto.log").open("w")
    process = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    s3 = S3(f"http://127.0.0.1:{port}", "rehearsal-dvc")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                s3.client().create_bucket(Bucket=s3.bucket)
                break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.3)
        yield s3
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
