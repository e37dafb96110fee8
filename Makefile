# Two commands a new user needs:  make run   and   make test
# Each installs what it needs (a pinned uv in .tools/, the locked environment in .venv/).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.8
# Absolute: exported to init, which runs uv from other folders. (No comment on the line
# itself: make would keep the spaces before it in the value.)
UV ?= $(CURDIR)/.tools/bin/uv
export UV
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export UV_PYTHON_DOWNLOADS := never
export DVC_NO_ANALYTICS := 1

.PHONY: help setup check run data test test-fast lint format bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	@echo "==> installing uv $(UV_VERSION) into .tools/"
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# --compile-bytecode: .pyc for every installed package now, since with
# PYTHONDONTWRITEBYTECODE=1 (CI, many containers) Python would compile scikit-learn, pandas
# and scipy from source again in every stage's process (6 s of CPU instead of 2.4 s).
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	@echo "==> installing the locked environment into $(VENV)/"
	$(UV) sync --locked --compile-bytecode --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced ## install the locked environment (.venv/)

data: setup ## fetch the DVC-tracked data if it is not in the workspace yet
	@if [ ! -e data ]; then echo "==> dvc pull data.dvc (from the bundled local remote)"; dvc pull data.dvc; fi

check: setup ## check params.yaml and the data contract as files (unknown keys, misspelled checks)
	tabpipe check

run: data check ## run the whole pipeline (dvc repro: validate, split, train, evaluate, export, profile, gate)
	@echo "==> dvc repro"
	dvc repro
	@echo "==> metrics"
	dvc metrics show metrics/train.json metrics/test.json
	@echo "==> outputs: models/model.onnx, metrics/, plots/, reports/ (try: dvc plots show)"

# Whole files to two workers, in collection order: tests/conftest.py puts the end-to-end
# files first (xdist's default reorder, by number of tests, puts them last).
PARALLEL = -n 2 --dist loadfile --no-loadscope-reorder

test: data ## run the test suite (core, pipeline, CI, release, serving, monitoring, onboarding, end-to-end)
	pytest $(PARALLEL) --durations=10

test-fast: data ## the test suite without the end-to-end tests
	pytest $(PARALLEL) -m "not e2e and not rehearsal"

test-onboarding: data ## init on eight datasets, then each new project's make run and whole make test
	TABPIPE_TEST_ONBOARDED=all pytest $(PARALLEL) tests/e2e/test_init_*.py tests/onboarding/test_update.py

lint: setup ## ruff and mypy
	ruff check src tests benchmarks
	ruff format --check src tests benchmarks
	mypy

format: setup ## apply ruff's formatting and fixes
	ruff format src tests benchmarks
	ruff check --fix src tests benchmarks

bench: data ## run the benchmarks and write docs/benchmarks.md
	python -m benchmarks.run

clean: ## delete pipeline outputs (the DVC cache keeps them; dvc checkout restores)
	rm -rf build models plots reports metrics

# --- CI/CD loop (.github/workflows; see docs/ci-cd.md) -----------------------------------
.PHONY: validate-data report check-workflows rehearse

BASE ?= main

validate-data: data check ## check the tracked data against its contract (CI's data-contract job)
	python -m tabpipe.pipeline.validate

report: setup ## the pull-request report of the workspace against BASE (default: main)
	python -m tabpipe.ci.report --base $(BASE)
	@echo "==> build/report/report.md, build/report/plots.html"

check-workflows: setup ## static checks of .github/: zizmor, shellcheck, the workflow rules
	pytest -n 2 tests/workflows
	@if command -v actionlint >/dev/null; then actionlint; else echo "actionlint not installed: skipped (zizmor, shellcheck and tests/workflows ran)"; fi

rehearse: setup ## run the workflows locally under act (host mode) for every event
	pytest -n 2 -m rehearsal tests/rehearsal

# --- Model release (gate, registry, serving; see docs/releasing.md) -----------------------
.PHONY: champion

# The gate stage compares with the champion: resolve it from the git registry first.
run: champion

champion: setup ## resolve the champion (model in prod) from git tags into reports/champion.json
	python -m tabpipe.release.champion

.PHONY: bundle serve
bundle: setup ## model.onnx + model.json + model card into build/bundle (what a release carries)
	python -m tabpipe.release.bundle --out build/bundle

serve: bundle ## serve build/bundle over HTTP on 127.0.0.1:8000 (FastAPI + onnxruntime; /docs)
	python -m tabpipe.serving.app --model-dir build/bundle --port $(or $(PORT),8000)

.PHONY: infra-validate
infra-validate: bundle ## serve build/bundle in a clean env (serve deps only): contract, real rows, latency
	python -m tabpipe.release.infra_validate --bundle build/bundle

# --- Monitoring and continuous training (see docs/monitoring.md) --------------------------
.PHONY: record monitor

record: setup ## write reports/run.json: code, data, params, stage timings, runner, replaced model, metrics
	tabpipe record
	tabpipe record --show

monitor: setup ## check the newest batch (drift, schema skew) and feedback (degradation); exit 0/2/3/4
	tabpipe monitor
