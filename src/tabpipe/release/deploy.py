"""What the deploy workflow runs: ``python -m tabpipe.release.deploy COMMAND``.

``wait``      wait until CI has finished on the commit; go on only if it succeeded
``precheck``  before rebuilding: is the model this commit's ``dvc.lock`` records already
              in ``prod``? Then there is nothing to release and nothing to rebuild
``plan``      after the rebuild: the commit must be on ``main``, the rebuilt
              ``models/model.onnx`` must be the one its ``dvc.lock`` records (same md5),
              its metrics the committed ones, and the gate must bless it; then the next
              version; nothing to do if that commit, or this model, is already released
``release``   register the version at that commit, assign ``prod``, and publish a GitHub
              release carrying the bundle (model.onnx, model.json, model card, infra report)

Releases come only from ``main``: the workflow runs its jobs only for ``refs/heads/main``
and binds the release job to the ``production`` environment (deployment branches: main),
and this module refuses a commit that is not a full SHA on ``origin/main``. The merge
commit itself records the model (pull requests must carry an up-to-date ``dvc.lock``);
the deploy rebuilds it from the data alone, with no run-cache and no restored outputs, so
no cache entry a pull request could have written reaches a release.

The registry tags are pushed atomically and only once the draft release holds every asset,
so a failure leaves either nothing or a draft to publish by hand, never a half release.
Only the standard library is imported at load time (``wait`` runs before any install).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabpipe.ci.actions import annotate, append_summary, git_auth_env, set_outputs
from tabpipe.ci.github import GitHub, GitHubAPIError
from tabpipe.ci.workflow import BOT_EMAIL, BOT_NAME
from tabpipe.core import git
from tabpipe.core.dvcfiles import file_md5, lock_stages, locked_md5
from tabpipe.core.paths import BUNDLE_DIR, DVC_LOCK, PATHS
from tabpipe.release import registry

CI_WORKFLOW = ".github/workflows/ci.yml"
TRAINING_WORKFLOW = ".github/workflows/continuous-training.yml"
REQUIRED = {"CI": CI_WORKFLOW}
RELEASE_BRANCH = "main"
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
MODEL_PATH = str(PATHS.onnx_model)
RELEASE_ASSETS = ("model.onnx", "model.json", "model_card.md", "infra_validation.json")
GRACE_S = 60.0


class DeployError(Exception):
    """Deploying was refused or failed; the message says why and what was left behind."""


# --- wait -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunState:
    name: str
    status: str | None  # None: no run of this workflow for the commit
    conclusion: str | None
    url: str = ""


def latest_runs(
    runs: Sequence[Mapping[str, Any]], branch: str = RELEASE_BRANCH
) -> dict[str, RunState]:
    """The newest run of each required workflow among a commit's runs on ``branch``.

    Newest by run id, the order GitHub created the runs in: a re-run keeps its run's id
    and the API reports its latest attempt, so re-running an older run never makes it
    newer than a run started after it. Pull-request runs of the same commit do not count.
    """
    out = {}
    for name, path in REQUIRED.items():
        mine = [
            r
            for r in runs
            if str(r.get("path", "")).split("@")[0] == path
            and r.get("event") != "pull_request"
            and r.get("head_branch", branch) == branch
        ]
        if not mine:
            out[name] = RunState(name, None, None)
            continue
        newest = max(mine, key=lambda r: int(r.get("id") or 0))
        out[name] = RunState(
            name, newest.get("status"), newest.get("conclusion"), str(newest.get("html_url", ""))
        )
    return out


def verdict(states: Mapping[str, RunState], waited_s: float) -> tuple[str, str]:
    """("proceed" | "fail" | "wait", why) for the current states."""
    ci = states["CI"]
    if ci.status == "completed":
        if ci.conclusion == "success":
            return "proceed", "CI succeeded on this commit"
        return "fail", f"CI {ci.conclusion} on this commit ({ci.url}): nothing is deployed"
    if ci.status is None:
        if waited_s >= GRACE_S:
            return "fail", "CI did not run on this commit: nothing is deployed"
        return "wait", "CI has not started yet"
    return "wait", "waiting for CI"


def wait_for_checks(
    github: GitHub,
    sha: str,
    timeout_s: float,
    poll_s: float = 20.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[str, str]:
    started = clock()
    last = ""
    while True:
        runs = github.call("GET", f"/actions/runs?head_sha={sha}&per_page=100") or {}
        outcome, why = verdict(latest_runs(runs.get("workflow_runs", [])), clock() - started)
        if outcome != "wait":
            return outcome, why
        if why != last:
            print(f"[deploy] {why}", flush=True)
            last = why
        if clock() - started > timeout_s:
            return "fail", f"gave up after {timeout_s / 60:.0f} min: {why}"
        sleep(poll_s)


# --- plan -------------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    try:
        return git.out(*args, repo=repo)
    except git.GitError as exc:
        raise DeployError(str(exc)) from exc


def _show(repo: Path, commit: str, path: str | Path) -> str | None:
    return git.show(commit, path, repo)


def locked_model_md5(lock_text: str | None) -> str | None:
    """The md5 dvc.lock records for models/model.onnx (export's output)."""
    return locked_md5(lock_stages(lock_text), PATHS.onnx_model)


def require_full_sha(commit: str) -> str:
    """A release names its commit by full SHA: never ``HEAD``, a branch or a tag."""
    if not FULL_SHA.match(commit):
        raise DeployError(
            f"{commit!r} is not a full commit SHA: a release records the exact commit it "
            "was built from (never HEAD, a branch or a tag); nothing is released"
        )
    return commit


def require_on_main(repo: Path, commit: str, main_ref: str) -> None:
    """The commit is ``main``'s or one of its ancestors (``origin/main`` fetched first)."""
    require_full_sha(commit)
    done = subprocess.run(
        ["git", "merge-base", "--is-ancestor", commit, main_ref],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise DeployError(
            f"commit {commit[:12]} is not on {main_ref}: releases come only from "
            f"{RELEASE_BRANCH}; nothing is released"
            + (f" ({done.stderr.strip()})" if done.returncode > 1 else "")
        )


def head_commit(repo: Path) -> str:
    return _git(repo, "rev-parse", "HEAD").strip()


@dataclass(frozen=True)
class Plan:
    release: bool
    reason: str
    version: str = ""
    commit: str = ""
    previous: str = ""

    def outputs(self) -> dict[str, str]:
        return {
            "release": "true" if self.release else "false",
            "version": self.version,
            "commit": self.commit,
            "previous": self.previous,
        }


def _fetch(repo: Path, what: str, env: Mapping[str, str], *args: str) -> None:
    """`git fetch --quiet --no-tags origin ARGS` with the workflow's token; DeployError names
    ``what`` could not be fetched."""
    done = subprocess.run(
        ["git", "fetch", "--quiet", "--no-tags", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env=git_auth_env(env),
        check=False,
    )
    if done.returncode != 0:
        raise DeployError(f"could not fetch {what} from origin: {done.stderr.strip()}")


def fetch_main(repo: Path, branch: str = "main", env: Mapping[str, str] = os.environ) -> str:
    """Fetch the branch releases come from (its recent history) and the registry tags."""
    ref = f"refs/remotes/origin/{branch}"
    _fetch(repo, branch, env, "--depth=50", "origin", f"+refs/heads/{branch}:{ref}")
    registry.fetch_tags(repo, env=env)
    return ref


def precheck(repo: Path) -> Plan:
    """Before rebuilding: is the model HEAD's ``dvc.lock`` records already in prod?"""
    commit = head_commit(repo)
    locked = locked_model_md5(_show(repo, commit, DVC_LOCK))
    if locked is None:
        raise DeployError(f"commit {commit[:12]}'s dvc.lock records no {PATHS.onnx_model}")
    current = registry.prod(repo)
    if current is not None and locked_model_md5(_show(repo, current.commit, DVC_LOCK)) == locked:
        return Plan(
            False,
            f"{registry.PROD} ({current.version}) already serves the model "
            f"commit {commit[:12]} records: nothing to rebuild or release",
        )
    return Plan(True, f"commit {commit[:12]} records model md5 {locked}, not in {registry.PROD}")


def plan(repo: Path, main_ref: str = "origin/main") -> Plan:
    commit = head_commit(repo)
    require_on_main(repo, commit, main_ref)
    verdict_path, model_path = repo / PATHS.gate_verdict, repo / PATHS.onnx_model
    if not model_path.exists() or not verdict_path.exists():
        raise DeployError(f"{PATHS.onnx_model} or {PATHS.gate_verdict} missing: run `make run`")
    model_md5 = file_md5(model_path)
    locked = locked_model_md5(_show(repo, commit, DVC_LOCK))
    if locked != model_md5:
        raise DeployError(
            f"the rebuilt {PATHS.onnx_model} (md5 {model_md5}) is not the model commit "
            f"{commit[:12]}'s dvc.lock records (md5 {locked}): the merged dvc.lock was not "
            "reproduced from its inputs; nothing is released"
        )
    gate = json.loads(verdict_path.read_text(encoding="utf-8"))
    if gate.get("model_md5") != model_md5:
        raise DeployError(f"{PATHS.gate_verdict} judged another model: re-run `make run`")
    if not gate.get("blessed"):
        raise DeployError(f"the model is not blessed by the gate: {gate.get('reason')}")
    metrics = json.loads((repo / PATHS.test_metrics).read_text(encoding="utf-8"))
    recorded = _show(repo, commit, PATHS.test_metrics.as_posix())
    if recorded is None or json.loads(recorded) != metrics:
        raise DeployError(
            f"the rebuilt {PATHS.test_metrics} differs from commit {commit[:12]}'s: nothing "
            "is released"
        )
    current = registry.prod(repo)
    existing = registry.versions(repo)
    held = next((v for v in existing if v.commit == commit), None)
    if held is not None:
        return Plan(False, f"commit {commit[:12]} is already {registry.ARTIFACT}@{held.version}")
    if current is not None and locked_model_md5(_show(repo, current.commit, DVC_LOCK)) == model_md5:
        return Plan(False, f"{registry.PROD} ({current.version}) already serves this very model")
    version = registry.next_version([v.version for v in existing])
    reason = f"blessed: {gate.get('reason')}; releasing {version} at {commit[:12]}"
    return Plan(True, reason, version, commit, current.version if current else "")


# --- release ----------------------------------------------------------------------------------


def check_bundle(bundle: Path, version: str, commit: str) -> dict[str, Any]:
    """The bundle must be this version of this commit, blessed and infra-validated."""
    missing = [name for name in RELEASE_ASSETS if not (bundle / name).is_file()]
    if missing:
        raise DeployError(f"{bundle}: missing {', '.join(missing)}")
    info = json.loads((bundle / "model.json").read_text(encoding="utf-8"))
    if (info.get("version"), info.get("commit")) != (version, commit):
        raise DeployError(
            f"{bundle}/model.json is {info.get('version')} at {info.get('commit')}, not "
            f"{version} at {commit}"
        )
    if info.get("onnx_md5") != file_md5(bundle / "model.onnx"):
        raise DeployError(f"{bundle}/model.json describes another model.onnx")
    if not (info.get("gate") or {}).get("blessed"):
        raise DeployError("the bundled model is not blessed by the gate")
    infra = json.loads((bundle / "infra_validation.json").read_text(encoding="utf-8"))
    if not infra.get("ok"):
        raise DeployError("infra validation did not pass: the model is not released")
    return info


def release_body(info: Mapping[str, Any], bundle: Path) -> str:
    latency = json.loads((bundle / "infra_validation.json").read_text()).get("latency", {})
    gate = info.get("gate") or {}
    lines = [
        f"Model `{info['version']}` from commit `{info['commit']}` "
        f"(data md5 `{info.get('data_md5')}`).",
        "",
        f"- Gate: blessed ({gate.get('reason')})",
        f"- Infra validation: passed; p50 {latency.get('p50_ms')} ms, "
        f"p99 {latency.get('p99_ms')} ms over loopback (budget {latency.get('budget_ms')} ms)",
        f"- Replaces: `{info.get('previous') or 'nothing (first release)'}` in prod",
        "",
        "Roll back with `tabpipe registry rollback --push`. The model card follows.",
        "",
        (bundle / "model_card.md").read_text(encoding="utf-8"),
    ]
    return "\n".join(lines)[:120_000]


def ensure_commit(repo: Path, commit: str, env: Mapping[str, str] = os.environ) -> None:
    """Fetch the commit to tag if this (one-commit-deep) checkout lacks it."""
    present = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"],
        cwd=repo,
        capture_output=True,
        check=False,
    )
    if present.returncode == 0:
        return
    _fetch(repo, f"commit {commit}", env, "--depth=1", "origin", commit)


def publish(
    repo: Path,
    bundle: Path,
    version: str,
    commit: str,
    github: GitHub,
    main_ref: str | None = None,
) -> dict[str, Any]:
    """Tags and a release, all or nothing (see the module docstring).

    ``main_ref`` is the fetched ``main`` the commit must be on (None: fetch it here).
    """
    require_full_sha(commit)
    info = check_bundle(bundle, version, commit)
    ensure_commit(repo, commit)
    require_on_main(repo, commit, main_ref or fetch_main(repo))
    identity = (BOT_NAME, BOT_EMAIL)
    created: list[str] = []
    release: dict[str, Any] | None = None
    try:
        created.append(registry.register(repo, commit, version, author=identity).tag)
        created.append(registry.assign_prod(repo, version, author=identity))
        release = github.call(
            "POST",
            "/releases",
            {
                "tag_name": created[0],
                "target_commitish": commit,
                "name": f"{registry.ARTIFACT} {version}",
                "body": release_body(info, bundle),
                "draft": True,
            },
        )
        upload = str(release["upload_url"]).split("{")[0]
        for name in RELEASE_ASSETS:
            kind = "application/octet-stream" if name.endswith(".onnx") else "text/plain"
            url = f"{upload}?{urllib.parse.urlencode({'name': name})}"
            github.call("POST", url, data=(bundle / name).read_bytes(), content_type=kind)
        registry.push_tags(repo, created)
    except (registry.RegistryError, DeployError, GitHubAPIError) as exc:
        registry.delete_local_tags(repo, created)
        if release is not None:
            try:
                github.call("DELETE", f"/releases/{release['id']}")
            except GitHubAPIError as cleanup:
                annotate("warning", "Draft release", f"could not delete the draft: {cleanup}")
        raise DeployError(f"nothing was released: {exc}") from exc
    try:
        published = github.call("PATCH", f"/releases/{release['id']}", {"draft": False})
    except GitHubAPIError as exc:
        raise DeployError(
            f"{', '.join(created)} are pushed but the release is still a draft: publish it on "
            f"GitHub ({exc})"
        ) from exc
    return {"tags": created, "release": published}


# --- command line -----------------------------------------------------------------------------


def require_main_ref(env: Mapping[str, str]) -> None:
    """In a workflow, the run must be for ``refs/heads/main`` (a dispatch names any ref)."""
    ref = env.get("GITHUB_REF", "")
    if env.get("GITHUB_ACTIONS") == "true" and ref != f"refs/heads/{RELEASE_BRANCH}":
        raise DeployError(
            f"this run is for {ref or 'no ref'}: deploys run only for refs/heads/"
            f"{RELEASE_BRANCH}; nothing is deployed"
        )


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tabpipe.release.deploy", description=(__doc__ or "").split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    wait = commands.add_parser("wait", help="wait for CI on the commit")
    wait.add_argument("--sha", default=env.get("GITHUB_SHA", ""))
    wait.add_argument("--timeout-minutes", type=float, default=55)
    wait.add_argument("--poll-seconds", type=float, default=20)
    commands.add_parser("precheck", help="is the model this commit records already in prod?")
    commands.add_parser("plan", help="what to release (after the rebuild)")
    rel = commands.add_parser("release", help="register, assign prod, publish the release")
    rel.add_argument("--bundle", type=Path, default=BUNDLE_DIR)
    rel.add_argument("--version", required=True)
    rel.add_argument("--commit", required=True, help="the full SHA the plan named")
    args = parser.parse_args(argv)
    repo = Path(".")
    try:
        require_main_ref(env)
        if args.command == "wait":
            outcome, why = wait_for_checks(
                GitHub.from_env(env),
                require_full_sha(args.sha),
                args.timeout_minutes * 60,
                args.poll_seconds,
            )
            set_outputs(
                {"proceed": "true" if outcome == "proceed" else "false"}, env, echo="deploy"
            )
            annotate("error" if outcome == "fail" else "notice", "Deploy", why)
            return 1 if outcome == "fail" else 0
        if args.command == "precheck":
            registry.fetch_tags(repo, env=env)
            decided = precheck(repo)
            set_outputs({"rebuild": "true" if decided.release else "false"}, env, echo="deploy")
            annotate("notice", "Deploy precheck", decided.reason)
            return 0
        if args.command == "plan":
            decided = plan(repo, fetch_main(repo, RELEASE_BRANCH, env))
            set_outputs(decided.outputs(), env, echo="deploy")
            annotate("notice", "Deploy plan", decided.reason)
            return 0
        done = publish(repo, args.bundle, args.version, args.commit, GitHub.from_env(env))
        url = (done["release"] or {}).get("html_url", "")
        message = f"released {args.version}: {', '.join(done['tags'])} pushed; {url}"
        annotate("notice", "Released", message)
        append_summary(f"### Released model {args.version}\n\n{message}\n", env)
        return 0
    except (DeployError, registry.RegistryError, GitHubAPIError) as exc:
        annotate("error", "Deploy", str(exc))
        print(f"[deploy] ERROR: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
