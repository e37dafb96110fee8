"""What the deploy workflow runs: ``python -m tabpipe.release.deploy COMMAND``.

``wait``     wait until CI and continuous training have finished on the commit; go on only
             if both succeeded (and training ran at all: no training, nothing new to release)
``plan``     after ``make run``: the model must be blessed by the gate; find the commit on
             ``main`` that records this very model (its dvc.lock and metrics), and the next
             version; nothing to do if that commit, or this model, is already released
``release``  register the version at that commit, assign ``prod``, and publish a GitHub
             release carrying the bundle (model.onnx, model.json, model card, infra report)

The registry tags are pushed atomically and only once the draft release holds every asset,
so a failure leaves either nothing or a draft to publish by hand, never a half release.
Only the standard library is imported at load time (``wait`` runs before any install).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabpipe.ci.actions import annotate, append_summary, git_auth_env, set_outputs
from tabpipe.ci.workflow import BOT_EMAIL, BOT_NAME
from tabpipe.core import git
from tabpipe.core.dvcfiles import file_md5, lock_stages, locked_md5
from tabpipe.core.paths import BUNDLE_DIR, DVC_LOCK, PATHS
from tabpipe.release import registry

CI_WORKFLOW = ".github/workflows/ci.yml"
TRAINING_WORKFLOW = ".github/workflows/continuous-training.yml"
REQUIRED = {"CI": CI_WORKFLOW, "Continuous training": TRAINING_WORKFLOW}
RESULT_FILES = (str(DVC_LOCK),)
RESULT_DIRS = tuple(
    f"{d}/" for d in (PATHS.test_metrics.parent, PATHS.plots_dir, PATHS.gate_verdict.parent)
)  # what a results-recording commit may touch
MODEL_PATH = str(PATHS.onnx_model)
RELEASE_ASSETS = ("model.onnx", "model.json", "model_card.md", "infra_validation.json")
GRACE_S = 60.0


class DeployError(Exception):
    """Deploying was refused or failed; the message says why and what was left behind."""


# --- the GitHub REST API, with the workflow's token ------------------------------------------


@dataclass(frozen=True)
class GitHub:
    api: str
    repository: str
    token: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> GitHub:
        missing = [k for k in ("GITHUB_REPOSITORY", "GITHUB_TOKEN") if not env.get(k)]
        if missing:
            raise DeployError(f"{', '.join(missing)} not set: run this in the deploy workflow")
        api = env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
        return cls(api, env["GITHUB_REPOSITORY"], env["GITHUB_TOKEN"])

    def call(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        data: bytes | None = None,
        content_type: str = "application/json",
    ) -> Any:
        url = path if path.startswith("http") else f"{self.api}/repos/{self.repository}{path}"
        body = (
            data if data is not None else None if payload is None else json.dumps(payload).encode()
        )
        request = urllib.request.Request(url, data=body, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("Authorization", f"Bearer {self.token}")
        if body is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")[:500]
            raise DeployError(f"GitHub API {method} {url}: {error.code} {detail}") from error
        except urllib.error.URLError as error:
            raise DeployError(f"GitHub API {method} {url}: {error.reason}") from error
        return json.loads(raw) if raw else None


# --- wait -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunState:
    name: str
    status: str | None  # None: no run of this workflow for the commit
    conclusion: str | None
    url: str = ""


def latest_runs(runs: Sequence[Mapping[str, Any]]) -> dict[str, RunState]:
    """The newest attempt of each required workflow among a commit's runs."""
    out = {}
    for name, path in REQUIRED.items():
        mine = [r for r in runs if str(r.get("path", "")).split("@")[0] == path]
        if not mine:
            out[name] = RunState(name, None, None)
            continue
        newest = max(mine, key=lambda r: (int(r.get("run_attempt") or 1), int(r.get("id") or 0)))
        out[name] = RunState(
            name, newest.get("status"), newest.get("conclusion"), str(newest.get("html_url", ""))
        )
    return out


def verdict(states: Mapping[str, RunState], waited_s: float) -> tuple[str, str]:
    """("proceed" | "skip" | "fail" | "wait", why) for the current states."""
    ci, training = states["CI"], states["Continuous training"]
    for state in (ci, training):
        if state.status == "completed" and state.conclusion != "success":
            why = f"{state.name} {state.conclusion} on this commit ({state.url})"
            return "fail", f"{why}: nothing is deployed"
    if ci.status is None:
        if waited_s >= GRACE_S:
            return "fail", "CI did not run on this commit: nothing is deployed"
        return "wait", "CI has not started yet"
    if training.status is None:
        if ci.status == "completed" and waited_s >= GRACE_S:
            return "skip", (
                "continuous training did not run on this commit (no pipeline input changed): "
                "no new model to release"
            )
        return "wait", "waiting for CI (training has not started)"
    if ci.status == training.status == "completed":
        return "proceed", "CI and continuous training succeeded on this commit"
    running = [s.name for s in (ci, training) if s.status != "completed"]
    return "wait", f"waiting for {' and '.join(running)}"


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


def source_commit(github: GitHub, candidates: Sequence[str]) -> str | None:
    """The newest commit CI ran on (a manual run may start on a [skip ci] results commit)."""
    for sha in candidates:
        runs = github.call("GET", f"/actions/runs?head_sha={sha}&per_page=100") or {}
        if latest_runs(runs.get("workflow_runs", []))["CI"].status is not None:
            return sha
    return None


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


def only_results(repo: Path, parent: str, commit: str) -> bool:
    changed = _git(repo, "diff", "--name-only", parent, commit).split()
    return all(p in RESULT_FILES or p.startswith(RESULT_DIRS) for p in changed)


def recording_commit(repo: Path, model_md5: str, metrics: Any, main_ref: str) -> str | None:
    """HEAD, or a later results-only commit on main, whose dvc.lock and metrics are this model."""
    head = _git(repo, "rev-parse", "HEAD").strip()
    later = _git(repo, "rev-list", "--reverse", "--first-parent", f"HEAD..{main_ref}").split()
    previous = head
    for commit in [head, *later]:
        if commit != head and not only_results(repo, previous, commit):
            break  # main moved on with other changes: its own deploy releases those
        recorded = _show(repo, commit, PATHS.test_metrics)
        if (
            locked_model_md5(_show(repo, commit, DVC_LOCK)) == model_md5
            and recorded
            and (json.loads(recorded) == metrics)
        ):
            return commit
        previous = commit
    return None


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


def plan(repo: Path, main_ref: str = "origin/main") -> Plan:
    verdict_path, model_path = repo / PATHS.gate_verdict, repo / PATHS.onnx_model
    if not model_path.exists() or not verdict_path.exists():
        raise DeployError(f"{PATHS.onnx_model} or {PATHS.gate_verdict} missing: run `make run`")
    model_md5 = file_md5(model_path)
    gate = json.loads(verdict_path.read_text(encoding="utf-8"))
    if gate.get("model_md5") != model_md5:
        raise DeployError(f"{PATHS.gate_verdict} judged another model: re-run `make run`")
    if not gate.get("blessed"):
        raise DeployError(f"the model is not blessed by the gate: {gate.get('reason')}")
    metrics = json.loads((repo / PATHS.test_metrics).read_text(encoding="utf-8"))
    commit = recording_commit(repo, model_md5, metrics, main_ref)
    if commit is None:
        raise DeployError(
            f"no commit on {main_ref} records this model (md5 {model_md5}) in dvc.lock with "
            "these metrics: were the training results recorded? Nothing is released"
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


def publish(repo: Path, bundle: Path, version: str, commit: str, github: GitHub) -> dict[str, Any]:
    """Tags and a release, all or nothing (see the module docstring)."""
    info = check_bundle(bundle, version, commit)
    ensure_commit(repo, commit)
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
    except (registry.RegistryError, DeployError) as exc:
        registry.delete_local_tags(repo, created)
        if release is not None:
            try:
                github.call("DELETE", f"/releases/{release['id']}")
            except DeployError as cleanup:
                annotate("warning", "Draft release", f"could not delete the draft: {cleanup}")
        raise DeployError(f"nothing was released: {exc}") from exc
    try:
        published = github.call("PATCH", f"/releases/{release['id']}", {"draft": False})
    except DeployError as exc:
        raise DeployError(
            f"{', '.join(created)} are pushed but the release is still a draft: publish it on "
            f"GitHub ({exc})"
        ) from exc
    return {"tags": created, "release": published}


# --- command line -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tabpipe.release.deploy", description=(__doc__ or "").split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    wait = commands.add_parser("wait", help="wait for CI and training of the commit")
    wait.add_argument("--sha", default=os.environ.get("GITHUB_SHA", ""))
    wait.add_argument("--timeout-minutes", type=float, default=55)
    wait.add_argument("--poll-seconds", type=float, default=20)
    commands.add_parser("plan", help="what to release (after make run)").add_argument(
        "--branch", default="main", help="the branch releases come from (fetched from origin)"
    )
    rel = commands.add_parser("release", help="register, assign prod, publish the release")
    rel.add_argument("--bundle", type=Path, default=BUNDLE_DIR)
    rel.add_argument("--version", required=True)
    rel.add_argument("--commit", required=True)
    args = parser.parse_args(argv)
    repo = Path(".")
    try:
        if args.command == "wait":
            github = GitHub.from_env()
            sha = args.sha
            if os.environ.get("GITHUB_EVENT_NAME") == "workflow_dispatch":
                history = _git(repo, "log", "--first-parent", "-n", "30", "--format=%H").split()
                sha = source_commit(github, history) or sha
            outcome, why = wait_for_checks(
                github, sha, args.timeout_minutes * 60, args.poll_seconds
            )
            set_outputs({"proceed": "true" if outcome == "proceed" else "false"}, echo="deploy")
            annotate("error" if outcome == "fail" else "notice", "Deploy", why)
            return 1 if outcome == "fail" else 0
        if args.command == "plan":
            decided = plan(repo, fetch_main(repo, args.branch))
            set_outputs(decided.outputs(), echo="deploy")
            annotate("notice", "Deploy plan", decided.reason)
            return 0
        done = publish(repo, args.bundle, args.version, args.commit, GitHub.from_env())
        url = (done["release"] or {}).get("html_url", "")
        message = f"released {args.version}: {', '.join(done['tags'])} pushed; {url}"
        annotate("notice", "Released", message)
        append_summary(f"### Released model {args.version}\n\n{message}\n")
        return 0
    except (DeployError, registry.RegistryError) as exc:
        annotate("error", "Deploy", str(exc))
        print(f"[deploy] ERROR: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
