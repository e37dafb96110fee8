"""Where everything lives: every artifact path the pipeline, CI and release use, in one place.

Only the standard library is imported, so the CI modules that run with a bare Python use
it too. ``dvc.yaml`` repeats the stage outputs in :data:`PATHS` because DVC needs them
literally; a test keeps the two in step, and another fails when a module spells one of
these paths instead of importing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PARAMS_FILE = Path("params.yaml")
DVC_YAML = Path("dvc.yaml")
DVC_LOCK = Path("dvc.lock")
DATA_POINTER = Path("data.dvc")
CONTRACTS_DIR = Path("contracts")
DATA_DIR = Path("data")
BUNDLED_STORAGE = Path(".dvc/storage")  # the template's in-repo DVC remote, `bundled`
SOURCE_DIR = Path("src")


@dataclass(frozen=True)
class Paths:
    """Where every stage writes. Mirrored in dvc.yaml (checked by tests)."""

    validated: Path = Path("build/validated.parquet")
    validation_report: Path = Path("reports/validation.json")
    validation_summary: Path = Path("reports/validation.md")
    train_split: Path = Path("build/train.parquet")
    test_split: Path = Path("build/test.parquet")
    model: Path = Path("models/model.joblib")
    train_metrics: Path = Path("metrics/train.json")
    test_metrics: Path = Path("metrics/test.json")
    slice_metrics: Path = Path("metrics/slices.json")
    plots_dir: Path = Path("plots")
    onnx_model: Path = Path("models/model.onnx")
    parity_report: Path = Path("reports/parity.json")
    reference_profile: Path = Path("reports/reference_profile.json")
    gate_verdict: Path = Path("reports/gate.json")
    gate_summary: Path = Path("reports/gate.md")


PATHS = Paths()

# The champion (the model version assigned to prod in the git registry) and its metrics.
# Written before `dvc repro` by `tabpipe champion` (make run does it) from git tags, so that
# the gate stage can depend on it without dvc repro touching the network.
CHAMPION_FILE = Path("reports/champion.json")
RUN_RECORD = Path("reports/run.json")  # tabpipe record: code, data, params, timings, runner
TIMINGS_FILE = Path("build/timings.jsonl")  # one line per stage run, read by tabpipe record

BUNDLE_DIR = Path("build/bundle")  # tabpipe bundle: what a release carries
SERVE_ENV = Path("build/serve-env")  # infra validation's clean serving environment
REPORT_DIR = Path("build/report")  # the pull-request report (make report)
MONITORING_DIR = Path("build/monitoring")  # drift, degradation and monitor reports
INCOMING_DIR = Path("monitoring/incoming")  # default monitor.incoming: new batches
FEEDBACK_DIR = Path("monitoring/feedback")  # default monitor.feedback: labelled rows
SWEEP_DIR = Path("build/sweep")
# tabpipe ingest's journal, backup and staged table while it swaps in a new data version
# (git- and DVC-ignored; not under build/, which `make clean` deletes)
INGEST_WORK = Path(".tabpipe/ingest")
INGEST_JOURNAL = INGEST_WORK / "journal.json"

PROJECT_RECORD = Path("docs/project.md")  # written by tabpipe init: what it decided
