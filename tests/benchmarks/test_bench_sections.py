"""The benchmarks added for issue 11 (start-up per stage, fit beside a busy process, batch
scoring, test suites): what they run and what their sections say. No timing is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import document, fit, scoring, startup, suites
from benchmarks import run as bench_run
from benchmarks.timing import Spread
from tabpipe.core import threads
from tabpipe.core.config import Params


def test_start_up_is_timed_for_every_stage_with_and_without_bytecode(root: Path) -> None:
    stages = [stage for stage, _ in startup.commands().values() if stage is not None]
    assert stages == [*startup.STAGES, "champion"]
    dvc_yaml = (root / "dvc.yaml").read_text(encoding="utf-8")
    assert all(f"tabpipe.pipeline.{stage}" in dvc_yaml for stage in startup.STAGES)
    envs = startup.environments("/tmp/empty-prefix")
    assert set(envs) == set(startup.VARIANTS)
    assert "PYTHONPYCACHEPREFIX" not in envs["compiled"]
    assert envs["no bytecode"]["PYTHONPYCACHEPREFIX"] == "/tmp/empty-prefix"
    assert all(env["PYTHONDONTWRITEBYTECODE"] == "1" for env in envs.values())


def test_the_fit_variants_differ_only_in_the_thread_settings() -> None:
    settings, defaults = fit._environment("busy"), fit._environment("busy-defaults")
    cpus = str(threads.available_cpus())
    assert settings[threads.WAIT_POLICY] == "PASSIVE"
    assert all(settings[name] == cpus for name in threads.POOL_VARIABLES)
    assert not threads.user_set_threads(settings)  # small fits may take one thread
    assert threads.WAIT_POLICY not in defaults and defaults["OMP_NUM_THREADS"] == cpus
    assert threads.user_set_threads(defaults)  # OpenMP's count, kept for every size
    pool = fit._environment("alone-passive-pool")
    assert pool[threads.WAIT_POLICY] == "PASSIVE" and threads.user_set_threads(pool)
    assert fit._environment("alone") == settings


def test_the_fit_section_compares_with_the_fit_alone_and_names_a_timeout() -> None:
    result = fit.FitResult(
        "hist_gradient_boosting", 3563, 2, 3, 600.0,
        [
            fit.FitVariant("alone", Spread((0.4, 0.5, 0.45)), {"OMP_WAIT_POLICY": "PASSIVE"}, 1),
            fit.FitVariant("alone-passive-pool", Spread((1.3, 1.35, 1.4)), {}),
            fit.FitVariant("busy", Spread((0.8, 0.9, 1.0)), {"OMP_WAIT_POLICY": "PASSIVE"}),
            fit.FitVariant("busy-defaults", None, {"OMP_WAIT_POLICY": "(unset)"}),
        ],
    )  # fmt: skip
    text = fit.markdown(result)
    assert "| alone, thread settings of the stages | `OMP_WAIT_POLICY=PASSIVE` | 1 | 0.45 |" in text
    assert "> 600 (timed out)" in text and "did not finish within 600 s" in text
    assert "from 0.45 s to 0.90 s (2.0x)" in text
    assert "0.45 s with the stages' settings against 1.35 s on all 2 CPUs" in text
    assert "(3.0x)" in text


def test_batch_scoring_runs_tabpipe_predict_and_scikit_learn_on_the_same_rows(
    root: Path, params: Params, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(root)
    result = scoring.run(root, rows=2_000, progress=False)
    assert result.rows == 2_000 and result.family == params.train.family
    assert result.max_abs_diff <= params.export.parity_tolerance
    assert result.cli_seconds > 0 and result.tabpipe_s > 0 and result.sklearn_s > 0
    text = scoring.markdown(result)
    assert "2,000 synthetic rows" in text and "| `tabpipe predict` |" in text


def test_suite_summaries_and_goals_are_read_from_what_ran() -> None:
    output = (
        "===== 4 passed in 1.2s =====\nlint ok\n"
        "===== 520 passed, 12 deselected, 1 warning in 250.00s (0:04:10) =====\n"
    )
    assert suites.summaries(output) == (
        "4 passed in 1.2s; 520 passed, 12 deselected, 1 warning in 250.00s (0:04:10)"
    )
    result = suites.SuitesResult(
        "abc1234", 60.0, 2.0,
        [
            suites.SuiteRun("make test", 250.0, 400.0, 0, 0.5, "520 passed"),
            suites.SuiteRun("bash .ci/run", 700.0, 900.0, 2, 3.0, "1 failed", "E boom"),
        ],
    )  # fmt: skip
    text = suites.markdown(result)
    assert "| `make test` | 4.2 | 6.7 | 0.50 | passed | 520 passed |" in text
    assert "`make test`: 4.2 min against a goal of under 5 min: met" in text
    assert "`bash .ci/run`: 11.7 min against a goal of under 10 min: **not met**" in text
    assert "**failed** (exit 2)" in text and "E boom" in text
    assert (
        "Not run in this measurement (name them with `--suites`): "
        "`make test-onboarding`, `make rehearse`." in text
    )


def test_make_bench_writes_the_new_sections_in_the_documents_order(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_fit = fit.FitResult(
        "f", 10, 2, 1, 1.0, [fit.FitVariant(v, Spread((1.0,)), {}) for v in fit.VARIANTS]
    )
    fake_suites = suites.SuitesResult(
        "abc", 1.0, 1.0, [suites.SuiteRun("make test", 1, 1, 0, 0, "")]
    )
    monkeypatch.setattr(bench_run.fit, "run", lambda root, *, repeats: fake_fit)
    monkeypatch.setattr(bench_run.suites, "run", lambda root, suites: fake_suites)
    monkeypatch.setattr(bench_run, "SCRATCH", tmp_path / "scratch")
    monkeypatch.chdir(root)
    output = tmp_path / "benchmarks.md"
    assert bench_run.main(["--only", "suites", "fit", "--output", str(output)]) == 0
    sections = document.split(output.read_text(encoding="utf-8"))
    assert list(sections) == ["machine", "suites", "fit"]
    assert "## Test suites" in sections["suites"] and "## Fit time" in sections["fit"]
    assert [name for name in document.ORDER if name in bench_run.BENCHMARKS] == [
        name for name in document.ORDER if name != "machine"
    ], "every benchmark has a place in the document"
