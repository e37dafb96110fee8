"""The serving image: slim, non-root, serve group only; its file layout runs the service.

There is no Docker engine here, so the image is checked in two ways: the Dockerfile and
.dockerignore are read (what goes in, as whom), and the image's layout is rebuilt in a
folder (its COPY lines, its ENV, its ENTRYPOINT) with an environment holding only the
serve group, then started and asked for a prediction.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tabpipe.release.infra_validate import build_environment
from tabpipe.serving.infra_check import free_port, http, wait_ready

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def final_stage() -> list[str]:
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    joined, buffer = [], ""
    for line in lines:
        if line.startswith("#") or not line:
            continue
        buffer += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            joined.append(buffer.strip())
            buffer = ""
    last_from = max(i for i, line in enumerate(joined) if line.startswith("FROM "))
    return joined[last_from:]


def instructions(name: str) -> list[str]:
    return [line[len(name) + 1 :] for line in final_stage() if line.startswith(name + " ")]


def copies() -> list[tuple[str, str]]:
    """(source, destination) of each COPY into the final image; the model stage's bundle
    stands for ``--from=model``."""
    out = []
    for args in instructions("COPY"):
        if args.startswith("--from=model "):
            out.append(("build/bundle/", args.split()[-1]))
            continue
        if args.startswith("--from="):
            continue
        source, dest = args.split()
        out.append((source.replace("${MODEL_DIR}", "build/bundle"), dest))
    return out


def test_the_model_is_made_readable_for_the_service_user_in_its_own_stage():
    text = DOCKERFILE.read_text()
    stage = text[text.index("AS model") : text.index("FROM", text.index("AS model"))]
    assert "COPY ${MODEL_DIR}/ /model/" in stage
    assert "RUN chmod -R a+rX,go-w /model" in stage, "readable by uid 10001, writable by none"
    assert "--from=model /model/ /model/" in instructions("COPY")


def test_the_image_is_slim_non_root_and_installs_only_the_serve_group():
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.\d+-slim$", text, re.M)
    assert "uv sync --locked --only-group serve --no-install-project" in text
    (user,) = instructions("USER")
    assert not user.startswith(("root", "0")), user
    entry = json.loads(instructions("ENTRYPOINT")[0])
    assert entry[:3] == ["python", "-m", "tabpipe.serving.app"] and "/model" in entry
    assert instructions("HEALTHCHECK") and "/health" in instructions("HEALTHCHECK")[0]


def test_dockerignore_lets_in_exactly_what_the_image_copies():
    patterns = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]

    def included(path: str) -> bool:
        keep = True
        for pattern in patterns:
            negate = pattern.startswith("!")
            bare = pattern.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, bare) or path.startswith(bare + "/"):
                keep = negate
        return keep

    for source, _ in [("pyproject.toml", ""), ("uv.lock", ""), *copies()]:
        assert included(source.rstrip("/")), f"{source} is copied but .dockerignore excludes it"
    for secret in (".dvc/config", "data/credit.csv", ".venv/bin/python", "params.yaml"):
        assert not included(secret), f"{secret} would be sent to the Docker daemon"


def test_the_image_layout_serves_a_prediction_as_the_images_user(bundle_dir, test_rows, tmp_path):
    """The image's files, copied with their permissions kept, served by uid 10001 (as the
    image's USER) when this test runs as root, so a file only root can read fails it."""
    base = Path(tempfile.mkdtemp(prefix="image-layout-"))  # not under pytest's 0700 folders
    base.chmod(0o755)
    image = base / "image"
    for source, dest in copies():
        origin = bundle_dir if source.startswith("build/bundle") else ROOT / source
        target = image / dest.lstrip("/")
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)
    for folder in [image, *(p for p in image.rglob("*") if p.is_dir())]:
        folder.chmod(0o755)  # what the image's own folders are (created by COPY)
    venv = build_environment(base / "venv").parent.parent
    env = {"HOME": str(tmp_path), "LANG": "C.UTF-8"}
    for assignment in " ".join(instructions("ENV")).split():
        key, value = assignment.split("=", 1)
        value = value.replace("$PATH", "/usr/bin:/bin").replace("/venv", str(venv))
        env[key] = value.replace("/app", str(image / "app"))
    port = free_port()
    entry = json.loads(instructions("ENTRYPOINT")[0])
    command = [a.replace("/model", str(image / "model")) for a in entry]
    command[command.index("--port") + 1] = str(port)
    command[command.index("--host") + 1] = "127.0.0.1"
    command[0] = str(venv / "bin" / "python")
    (user,) = instructions("USER")
    if os.geteuid() == 0:  # as the image does: not root
        uid, gid = user.split(":")
        command = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *command]
    process = subprocess.Popen(
        command, env=env, cwd=base, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_ready(base, process, 60) is None
        status, answer, _ = http("POST", f"{base}/predict", json.dumps(test_rows[0]).encode())
        assert status == 200, answer
        assert answer["model_version"] == "v1.0.0"
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode(errors="replace")
    assert "Permission denied" not in output, output
    assert not (image / "app" / "tabpipe" / "config.py").exists()
    shutil.rmtree(base, ignore_errors=True)
