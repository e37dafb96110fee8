"""A DVC remote on S3: push, pull and run-cache round trips through a local S3 server.

moto's server mode plays S3 on 127.0.0.1; DVC talks to it through dvc-s3 with the
endpoint URL in the remote's config, exactly as it would talk to AWS or MinIO. The tests
also check the failures a user meets: no credentials, a wrong bucket, an unreachable
endpoint, and `dvc pull --allow-missing` passing with the data absent.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.support.workspace import (
    ROOT,
    fresh_clone,
    make,
    sh,
    share_environment,
    skip_if_the_gate_refused,
    stages_run,
)

pytestmark = pytest.mark.e2e

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            raise AssertionError("moto_server did not start")
        s3 = boto3.client("s3", endpoint_url=url, **lower(CREDENTIALS))
        for bucket in ("models", "empty"):
            s3.create_bucket(Bucket=bucket)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def lower(env: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_DEFAULT_REGION"],
    }


def run(
    args: list[str], cwd: Path, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    """A command in a clone: its tools first on PATH, and only the AWS settings in ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "VIRTUAL_ENV"}
    clean["PATH"] = f"{cwd / '.venv' / 'bin'}{os.pathsep}{clean['PATH']}"
    clean["AWS_SHARED_CREDENTIALS_FILE"] = str(cwd / "no-such-credentials")
    clean["AWS_CONFIG_FILE"] = str(cwd / "no-such-config")
    done = subprocess.run(
        args,
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def use_s3(clone: Path, endpoint: str, bucket: str, name: str = "s3") -> None:
    run(["dvc", "remote", "add", "-f", "-d", name, f"s3://{bucket}/project"], clone, CREDENTIALS)
    run(["dvc", "remote", "modify", name, "endpointurl", endpoint], clone, CREDENTIALS)
    if (clone / ".dvc" / "config.local").exists():
        # An onboarded project's clone stands in for its team remote with a local default
        # (tests/workspace.py), which would win over the committed one: S3 is the default.
        run(["dvc", "remote", "default", "--local", name], clone, CREDENTIALS)


@pytest.fixture(scope="module")
def producer(tmp_path_factory: pytest.TempPathFactory, endpoint: str, environment: Path) -> Path:
    """A project that ran the pipeline and pushed data, outputs and run-cache to S3."""
    skip_if_the_gate_refused("make run stops at the gate before anything is pushed")
    clone = fresh_clone(tmp_path_factory.mktemp("s3") / "producer", environment)
    make("run", clone)
    use_s3(clone, endpoint, "models")
    run(["dvc", "push", "--run-cache"], clone, CREDENTIALS)
    sh(["git", "add", "-A"], clone)
    sh(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "s3"],
        clone,
    )
    return clone


@pytest.fixture(scope="module")
def consumer(tmp_path_factory: pytest.TempPathFactory, producer: Path, environment: Path) -> Path:
    """A teammate's fresh clone of the producer: no data, no outputs, no cache."""
    clone = tmp_path_factory.mktemp("s3") / "consumer"
    sh(["git", "clone", "-q", str(producer), str(clone)], producer.parent)
    share_environment(environment, clone)
    make("setup", clone)  # a no-op: the environment is there
    return clone


def run_cache_entries(clone: Path) -> set[str]:
    runs = clone / ".dvc" / "cache" / "runs"
    return (
        {str(p.relative_to(runs)) for p in runs.rglob("*") if p.is_file()}
        if runs.exists()
        else set()
    )


def test_data_outputs_and_run_cache_round_trip_through_s3(producer, consumer):
    assert not (consumer / "data").exists()
    done = run(["tabpipe", "pull", "--run-cache", "dvc.yaml", "data.dvc"], consumer, CREDENTIALS)
    assert "present and matching their recorded hashes" in done.stdout
    assert (consumer / "data").is_dir() and (consumer / "models" / "model.onnx").exists()
    assert (consumer / "models" / "model.onnx").read_bytes() == (
        producer / "models" / "model.onnx"
    ).read_bytes()
    assert run_cache_entries(consumer) == run_cache_entries(producer) != set()
    repro = run(["dvc", "repro"], consumer, CREDENTIALS)
    assert stages_run(repro.stdout) == [], "everything pulled: nothing retrains"


def test_missing_credentials_are_named(consumer):
    done = run(["tabpipe", "pull"], consumer, {}, check=False)
    assert done.returncode == 1
    assert "no S3 credentials found" in done.stderr and "AWS_ACCESS_KEY_ID" in done.stderr


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory, environment: Path) -> Path:
    """A fresh clone with its environment installed and no data pulled yet."""
    return fresh_clone(tmp_path_factory.mktemp("s3") / "newcomer", environment)


def test_a_wrong_bucket_is_named(newcomer, endpoint):
    use_s3(newcomer, endpoint, "no-such-bucket", name="wrong")
    done = run(["tabpipe", "pull", "--remote", "wrong"], newcomer, CREDENTIALS, check=False)
    assert done.returncode == 1
    assert "the remote does not have the data" in done.stderr
    assert "dvc remote list" in done.stderr


def test_an_unreachable_endpoint_is_named_at_once(newcomer):
    run(["dvc", "remote", "add", "-f", "down", "s3://models/project"], newcomer, CREDENTIALS)
    closed = f"http://127.0.0.1:{free_port()}"
    run(["dvc", "remote", "modify", "down", "endpointurl", closed], newcomer, CREDENTIALS)
    done = run(["tabpipe", "pull", "--remote", "down"], newcomer, CREDENTIALS, check=False)
    assert done.returncode == 1
    assert "cannot reach the remote's endpoint" in done.stderr
    assert f"endpointurl = {closed}" in done.stderr and "remote.down.endpointurl" in done.stderr
    assert "dvc pull" not in done.stderr, "the probe answers before DVC is asked"
    # Without the probe, DVC's own failure is translated into the same fix. One attempt
    # per request: botocore's retries of a refused connection, with their back-off, would
    # make this wait 20-30 s for the same message.
    once = {**CREDENTIALS, "AWS_MAX_ATTEMPTS": "1"}
    unprobed = ["tabpipe", "pull", "--remote", "down", "--no-probe"]
    done = run(unprobed, newcomer, once, check=False)
    assert done.returncode == 1
    assert "cannot reach the remote's endpoint" in done.stderr and "dvc pull" in done.stderr


def test_allow_missing_cannot_hide_absent_data(newcomer, endpoint):
    clone = newcomer
    use_s3(clone, endpoint, "empty", name="empty")
    plain = run(
        ["dvc", "pull", "--allow-missing", "-r", "empty", "data.dvc"],
        clone,
        CREDENTIALS,
        check=False,
    )
    assert plain.returncode == 0 and not (clone / "data").exists(), "the trap: dvc says OK"
    checked = run(
        ["tabpipe", "pull", "-r", "empty", "--allow-missing"], clone, CREDENTIALS, check=False
    )
    assert checked.returncode == 1
    assert "data is missing or stale" in checked.stderr and "data.dvc" in checked.stderr
