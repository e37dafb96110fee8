"""``tabpipe pull``: ``dvc pull`` that fails loudly instead of passing with data missing.

Two ways a pull "succeeds" with nothing to train on: ``dvc pull --allow-missing`` exits 0
when the remote lacks the data, and a pull from the wrong remote can leave a stale
workspace. After pulling, this command asks DVC (``dvc status --json``) whether every
target's outputs are present and match their recorded hashes, and fails with the list if
not. Remote errors are translated into the fix: which credentials or settings to provide.

Before pulling, a remote with a network endpoint (an S3 ``endpointurl``, an ``http(s)://``
URL) gets one TCP connection attempt: botocore retries a refused or silent endpoint with
back-off for 7-20 s or more before DVC reports it, and a wrong ``endpointurl`` is the
commonest remote mistake. The probe is skipped behind a proxy (the connection is the
proxy's to make) and when ``--no-probe`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from tabpipe.core.paths import DATA_POINTER

CREDENTIAL_HINTS = {
    "Unable to locate credentials": (
        "no S3 credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (locally, "
        "or as repository secrets in GitHub Actions), or use OIDC "
        "(aws-actions/configure-aws-credentials)"
    ),
    "InvalidAccessKeyId": "S3 rejected the access key: check AWS_ACCESS_KEY_ID",
    "SignatureDoesNotMatch": "S3 rejected the secret key: check AWS_SECRET_ACCESS_KEY",
    "AccessDenied": "S3 denied access: the credentials lack permission for this bucket/path",
    "Forbidden": "the remote refused the request (403): check the credentials and permissions",
    "NoSuchBucket": "the bucket does not exist: check the remote URL (`dvc remote list`)",
    "Could not connect to the endpoint URL": (
        "cannot reach the remote's endpoint: check `endpointurl` (`dvc remote list --show-origin`)"
    ),
}


class PullError(Exception):
    """The pull failed or left data missing; the message says what and how to fix it."""


@dataclass(frozen=True)
class Missing:
    target: str
    problems: list[str]


MISSING_MARKERS = ("Checkout failed", "Missing cache files", "do not exist neither locally nor")


def explain(stderr: str) -> str:
    """The most useful line of a failed DVC command, plus the fix when we recognise it."""
    for marker, hint in CREDENTIAL_HINTS.items():
        if marker in stderr:
            return hint
    if any(marker in stderr for marker in MISSING_MARKERS):
        return (
            "the remote does not have the data (a wrong URL or bucket, or nobody pushed it): "
            "check `dvc remote list`, and run `dvc push` where the data exists"
        )
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["dvc failed without a message"])[-1]


def missing_outputs(status: dict[str, object]) -> list[Missing]:
    """Parse ``dvc status --json``: anything listed is absent or differs from its hash."""
    found = []
    for target, changes in status.items():
        problems: list[str] = []
        for change in changes if isinstance(changes, list) else [changes]:
            if isinstance(change, dict):
                for kind in ("changed outs", "changed deps"):
                    for path, state in (change.get(kind) or {}).items():
                        problems.append(f"{path}: {state}")
            elif isinstance(change, str):
                problems.append(change)
        found.append(Missing(target, problems or ["out of date"]))
    return found


def dvc(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    return subprocess.run(
        ["dvc", *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL
    )


PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy")
DEFAULT_PORTS = {"http": 80, "https": 443}
PROBE_SECONDS = 5.0


@dataclass(frozen=True)
class Endpoint:
    remote: str
    setting: str  # which setting names it, for the message: "endpointurl" or "url"
    url: str
    host: str
    port: int


def endpoint_of(config: Mapping[str, object], remote: str | None) -> Endpoint | None:
    """The network endpoint ``remote`` (or the default remote) talks to, from DVC's config.

    ``None`` when there is nothing to probe: no such remote (DVC names that itself), a
    local or SSH/cloud URL without an explicit endpoint, or a URL without a host.
    """
    core = config.get("core")
    name = remote or (core.get("remote") if isinstance(core, Mapping) else None)
    remotes = config.get("remote")
    if not name or not isinstance(remotes, Mapping) or not isinstance(remotes.get(name), Mapping):
        return None
    settings = remotes[name]
    for setting in ("endpointurl", "url"):
        url = settings.get(setting)
        if not isinstance(url, str):
            continue
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            continue
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError:  # a port that is not a number: DVC's own error names it
            return None
        return Endpoint(str(name), setting, url, parts.hostname, port)
    return None


def behind_a_proxy(environ: Mapping[str, str]) -> bool:
    return any(environ.get(name) or environ.get(name.upper()) for name in PROXY_VARIABLES)


def unreachable(endpoint: Endpoint, timeout: float = PROBE_SECONDS) -> str | None:
    """Why no TCP connection to the endpoint opens, or ``None`` when one does."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout):
            return None
    except socket.gaierror:
        return f"the host {endpoint.host!r} is not known"
    except ConnectionRefusedError:
        return f"{endpoint.host}:{endpoint.port} refused the connection"
    except TimeoutError:
        return f"no answer from {endpoint.host}:{endpoint.port} within {timeout:g} s"
    except OSError as exc:
        return f"{endpoint.host}:{endpoint.port}: {exc.strerror or exc}"


def probe(remote: str | None) -> None:
    """Fail at once, naming the setting, when the remote's endpoint cannot be reached."""
    if behind_a_proxy(os.environ):
        return
    from dvc.config import Config  # dvc takes 0.3 s to load: only when pulling
    from dvc.exceptions import DvcException

    try:
        config = Config.from_cwd()
    except (DvcException, OSError):
        return  # a broken config: `dvc pull` reports it in DVC's words
    endpoint = endpoint_of(config, remote)
    if endpoint is None:
        return
    why = unreachable(endpoint)
    if why is not None:
        raise PullError(
            f"cannot reach the remote's endpoint: remote {endpoint.remote!r} has "
            f"{endpoint.setting} = {endpoint.url}, but {why}. Check it "
            f"(`dvc remote list --show-origin`, `dvc config remote.{endpoint.remote}."
            f"{endpoint.setting}`), or that the server is up"
        )


def pull(
    targets: list[str],
    *,
    remote: str | None,
    allow_missing: bool,
    run_cache: bool,
    check_endpoint: bool = True,
) -> None:
    if check_endpoint:
        probe(remote)
    args = ["pull", *targets]
    if remote:
        args += ["--remote", remote]
    if allow_missing:
        args.append("--allow-missing")
    if run_cache:
        args.append("--run-cache")
    done = dvc(args)
    if done.returncode != 0:
        raise PullError(f"dvc {' '.join(args)} failed: {explain(done.stderr + done.stdout)}")
    status = dvc(["status", "--json", *targets])
    if status.returncode != 0:
        raise PullError(f"dvc status failed: {explain(status.stderr)}")
    missing = missing_outputs(json.loads(status.stdout or "{}"))
    if missing:
        detail = "; ".join(f"{m.target}: {', '.join(m.problems)}" for m in missing)
        raise PullError(
            f"the pull reported success but data is missing or stale: {detail}. The remote "
            "lacks it: push it from where it exists (`dvc push`), or check `dvc remote list`"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tabpipe pull",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "targets",
        nargs="*",
        default=[str(DATA_POINTER)],
        help=".dvc files or stages to pull (default: data.dvc)",
    )
    parser.add_argument(
        "--remote", "-r", help="remote name (default: the project's default remote)"
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="pass --allow-missing to dvc; the check after the pull still applies",
    )
    parser.add_argument(
        "--run-cache",
        action="store_true",
        help="also pull the run-cache, so `dvc repro` restores unchanged stages",
    )
    parser.add_argument(
        "--no-probe",
        action="store_true",
        help="do not try one TCP connection to the remote's endpoint before pulling",
    )
    args = parser.parse_args(argv)
    try:
        pull(
            args.targets,
            remote=args.remote,
            allow_missing=args.allow_missing,
            run_cache=args.run_cache,
            check_endpoint=not args.no_probe,
        )
    except PullError as exc:
        print(f"[pull] ERROR: {exc}", file=sys.stderr, flush=True)
        return 1
    print(
        f"[pull] {', '.join(args.targets)}: present and matching their recorded hashes", flush=True
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
