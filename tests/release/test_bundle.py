"""tabpipe bundle: model.onnx + model.json + model_card.md, consistent with each other."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import onnxruntime as ort
import pytest

import tabpipe
from tabpipe.core.config import load_params
from tabpipe.core.contract import load_contract
from tabpipe.core.paths import CHAMPION_FILE, PATHS
from tabpipe.release import bundle
from tabpipe.serving.runtime import METADATA_FILE, MODEL_FILE
from tests.support.scratch import inside


def test_the_metadata_describes_this_very_model(bundle_dir, pipeline_project):
    info = json.loads((bundle_dir / METADATA_FILE).read_text())
    model_bytes = (bundle_dir / MODEL_FILE).read_bytes()
    assert model_bytes == (pipeline_project / PATHS.onnx_model).read_bytes()
    assert info["onnx_md5"] == hashlib.md5(model_bytes).hexdigest()
    assert (info["version"], info["commit"]) == ("v1.0.0", "0" * 40)
    gate = json.loads((pipeline_project / PATHS.gate_verdict).read_text())
    assert info["gate"] == gate and info["metrics"] == json.loads(
        (pipeline_project / PATHS.test_metrics).read_text()
    )
    sess = ort.InferenceSession(str(bundle_dir / MODEL_FILE))
    assert [f["onnx_input"] for f in info["inputs"]] == [i.name for i in sess.get_inputs()]
    assert (bundle_dir / bundle.CARD_FILE).read_text().startswith("# Model card: model v1.0.0")


def test_the_signature_takes_nullability_ranges_and_categories_from_the_contract(
    bundle_dir, pipeline_project
):
    params = load_params(pipeline_project / "params.yaml")
    schema = load_contract(pipeline_project / params.data.contract)
    info = json.loads((bundle_dir / METADATA_FILE).read_text())
    assert [f["name"] for f in info["inputs"]] == params.features.all
    for feature in info["inputs"]:
        column = schema.columns[feature["name"]]
        assert feature["nullable"] == column.nullable
        checks = {c.name: c.statistics for c in column.checks}
        if "in_range" in checks:
            assert (feature["minimum"], feature["maximum"]) == (
                checks["in_range"]["min_value"],
                checks["in_range"]["max_value"],
            )
        if str(column.dtype) in {"bool", "boolean"}:
            assert feature["kind"] == "boolean", "a boolean takes JSON true/false"
        elif "isin" in checks:
            allowed = checks["isin"]["allowed_values"]
            codes = all(isinstance(v, int) and not isinstance(v, bool) for v in allowed)
            assert feature["categories"] == [v if codes else str(v) for v in allowed]


def test_a_gate_verdict_about_another_model_is_refused(pipeline_project, tmp_path):
    verdict_path = pipeline_project / PATHS.gate_verdict
    original = verdict_path.read_text()
    try:
        verdict_path.write_text(json.dumps({**json.loads(original), "model_md5": "f" * 32}))
        with (
            inside(pipeline_project),
            pytest.raises(bundle.BundleError, match="judged another model"),
        ):
            bundle.build(load_params(), tmp_path / "out", "v9.9.9")
    finally:
        verdict_path.write_text(original)
    assert not (tmp_path / "out").exists()


def test_the_previous_version_is_the_champion_it_replaces(pipeline_project, tmp_path):
    champion = pipeline_project / CHAMPION_FILE
    original = champion.read_text()
    try:
        champion.write_text(json.dumps({"artifact": "model", "version": "v0.9.0", "metrics": {}}))
        with inside(pipeline_project):
            info = bundle.build(load_params(), tmp_path / "out", "v1.0.0")
    finally:
        champion.write_text(original)
    assert info["previous"] == "v0.9.0"
    assert "replaces `v0.9.0` in prod" in (tmp_path / "out" / bundle.CARD_FILE).read_text()


def test_without_a_model_the_command_says_to_run_the_pipeline(project, capsys):
    (project / CHAMPION_FILE).parent.mkdir(parents=True, exist_ok=True)
    assert bundle.main(["--out", "build/bundle"]) == 1
    assert "models/model.onnx not found: run `make run` first" in capsys.readouterr().err


def test_bundle_files_have_ordinary_permissions(pipeline_project, tmp_path):
    """As open() would create them (0666 minus the umask), not mkstemp's 0600."""
    previous = os.umask(0o022)
    try:
        with inside(pipeline_project):
            bundle.build(load_params(), tmp_path / "out", "v1.0.0", commit="0" * 40)
    finally:
        os.umask(previous)
    for name in (MODEL_FILE, METADATA_FILE, bundle.CARD_FILE):
        assert stat.S_IMODE((tmp_path / "out" / name).stat().st_mode) == 0o644, name


UNPRIVILEGED = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def copied_bundle(bundle_dir):
    """The bundle copied with its permissions (as `docker build` COPY and `cp -p` do) into a
    directory every user may enter; root only, since only root can become another user."""
    if os.geteuid() != 0:
        mode = stat.S_IMODE((bundle_dir / METADATA_FILE).stat().st_mode)
        assert mode & 0o044 == 0o044 & ~current_umask(), oct(mode)
        pytest.skip("not applicable: not root, so no other user to become (the modes were checked)")
    base = Path(tempfile.mkdtemp(prefix="bundle-copy-"))
    try:
        base.chmod(0o755)
        copy = base / "bundle"
        shutil.copytree(bundle_dir, copy)  # copy2: permissions kept
        copy.chmod(0o755)
        yield copy
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_every_file_of_a_copied_bundle_is_readable_by_another_user(copied_bundle):
    """Defect: mkstemp left model.json 0600, so uid 10001 in the image could not read it."""
    files = sorted(str(p) for p in copied_bundle.iterdir())
    assert {Path(f).name for f in files} >= {MODEL_FILE, METADATA_FILE}
    done = subprocess.run(
        [*UNPRIVILEGED, "cat", *files], capture_output=True, cwd=copied_bundle, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert len(done.stdout) == sum(Path(f).stat().st_size for f in files)


def test_a_bundle_copied_with_its_permissions_is_served_by_an_unprivileged_user(copied_bundle):
    """The service's own loader, run as another user, opens the copied bundle."""
    closed = unreachable_by_others(Path(sys.prefix), Path(tabpipe.__file__).parent)
    if closed is not None:
        pytest.skip(
            f"not applicable: {closed} is not searchable by other users, so another user "
            "cannot run this Python environment (the bundle's readability was checked with cat)"
        )
    script = (
        "import sys; from pathlib import Path; from tabpipe.serving.runtime import "
        "ServingModel; print(ServingModel(Path(sys.argv[1])).version)"
    )
    done = subprocess.run(
        [*UNPRIVILEGED, sys.executable, "-c", script, str(copied_bundle)],
        capture_output=True, text=True, cwd=copied_bundle, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "v1.0.0"


def unreachable_by_others(*paths: Path) -> Path | None:
    """The first directory on the way to ``paths`` that other users cannot enter, if any."""
    for path in paths:
        for directory in [*reversed(path.resolve().parents), path.resolve()]:
            if not stat.S_IMODE(directory.stat().st_mode) & 0o001:
                return directory
    return None


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_an_empty_onnx_file_is_called_empty(pipeline_project, tmp_path):
    model = pipeline_project / PATHS.onnx_model
    original = model.read_bytes()
    try:
        model.write_bytes(b"")
        with (
            inside(pipeline_project),
            pytest.raises(bundle.BundleError, match=r"empty \(0 bytes\)"),
        ):
            bundle.build(load_params(), tmp_path / "out", "v9.9.9")
        model.write_bytes(b"not a model at all")
        with inside(pipeline_project), pytest.raises(bundle.BundleError, match="ONNX model"):
            bundle.build(load_params(), tmp_path / "out", "v9.9.9")
    finally:
        model.write_bytes(original)
    assert not (tmp_path / "out").exists()
