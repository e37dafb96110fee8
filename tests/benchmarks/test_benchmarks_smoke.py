"""The benchmark code (benchmarks/) on tiny sizes, so that it cannot rot between `make bench` runs.

Nothing here asserts a timing; it checks that each benchmark runs and returns sane results,
and that the pandera-vs-pandas comparison refuses to time engines that disagree. The slow
`dvc repro` benchmark is not run; only its helpers are.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pytest

from benchmarks import document, drift, latency, machine, report, repro, serving, validation
from benchmarks import run as bench_run
from benchmarks import startup as startup_bench
from benchmarks.pandas_contract import Rules, load_rules, validate
from benchmarks.startup import OWN, StartupRow
from benchmarks.timing import Percentiles, Spread
from tabpipe.core.config import Params

ROWS = 2_000


@pytest.fixture(scope="module")
def rules(root: Path, params: Params) -> Rules:
    return load_rules(root / params.data.contract)


@pytest.fixture(scope="module")
def frame(raw: pd.DataFrame) -> pd.DataFrame:
    # rows that do not repeat; a table smaller than ROWS is used whole
    return raw.sample(min(ROWS, len(raw)), random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module")
def tiny_models(raw: pd.DataFrame, params: Params, root: Path) -> latency.Models:
    family = params.train.family
    settings = getattr(params.train, family)
    if "n_estimators" in type(settings).model_fields:
        settings = settings.model_copy(update={"n_estimators": 5})
    tiny = params.model_copy(update={"train": params.train.model_copy(update={family: settings})})
    return latency.trained_models(raw, tiny, root / params.data.contract)


def test_the_pandas_baseline_reads_every_column_of_the_contract(
    rules: Rules, contract: pa.DataFrameSchema
) -> None:
    assert [rule.name for rule in rules.columns] == list(contract.columns)


def test_both_engines_pass_clean_data_and_flag_the_same_corruptions(
    frame: pd.DataFrame, contract: pa.DataFrameSchema, rules: Rules
) -> None:
    cases = validation.check_agreement(frame, contract, rules, seed=0)
    assert cases[0].name == "clean" and cases[0].findings == []
    corrupted = [case for case in cases if case.name != "clean"]
    assert corrupted and all(case.findings for case in corrupted)
    kinds = {finding.check for case in corrupted for finding in case.findings}
    assert {"missing column", "unexpected column", "coerce_dtype"} <= kinds


def test_a_baseline_that_skips_a_rule_is_caught(
    frame: pd.DataFrame, contract: pa.DataFrameSchema, rules: Rules
) -> None:
    ranged = next(rule for rule in rules.columns if rule.in_range is not None)
    lax = dataclasses.replace(
        rules,
        columns=tuple(
            dataclasses.replace(rule, in_range=None) if rule is ranged else rule
            for rule in rules.columns
        ),
    )
    with pytest.raises(validation.Disagreement, match="in_range"):
        validation.check_agreement(frame, contract, lax, seed=0)


def test_the_baseline_returns_the_coerced_frame_only_when_valid(
    frame: pd.DataFrame, rules: Rules
) -> None:
    findings, coerced = validate(frame, rules)
    assert findings == [] and coerced is not None and coerced.shape == frame.shape
    findings, coerced = validate(frame.head(5), rules)
    assert coerced is None and "min_rows" in [f.check for f in findings]


@pytest.mark.parametrize("engine", validation.ENGINES)
def test_measure_engine(engine: str, frame: pd.DataFrame, root: Path, params: Params) -> None:
    result = validation.measure_engine(engine, frame, root / params.data.contract, repeats=2)
    assert result.rows == len(frame) and result.seconds.n == 2
    assert result.rows_per_second > 0 and result.peak_extra_mib >= 0


def test_latency_variants_and_parity(tiny_models: latency.Models) -> None:
    result = latency.measure(tiny_models, single_calls=20, batch_rows=300, batch_calls=3, warmup=2)
    assert set(result.single) == set(result.batch) == set(latency.VARIANTS)
    assert all(p.n == 20 and 0 < p.p50_ns <= p.p99_ns for p in result.single.values())
    assert all(p.n == 3 for p in result.batch.values())
    assert result.max_abs_diff <= tiny_models.params.export.parity_tolerance


def test_repro_log_parsing() -> None:
    output = (
        "Stage 'validate' didn't change, skipping\n"
        "Running stage 'train':\n> python -m tabpipe.pipeline.train\n[train] done in 1.3s\n"
        "Running stage 'export':\n[export] done in 0.2s\n"
    )
    log = repro.parse_log(4.5, output)
    assert log.ran == ("train", "export")
    assert log.stage_seconds == {"train": 1.3, "export": 0.2}
    assert log.process_seconds == {}
    timings = (
        '{"stage": "train", "seconds": 2.214, "work_seconds": 1.262, "outcome": "ok"}\n'
        '{"stage": "export", "seconds": 1.5, "work_seconds": 0.249, "outcome": "ok"}\n'
    )
    precise = repro.parse_log(4.5, output, timings=timings)
    assert precise.stage_seconds == {"train": 1.262, "export": 0.249}  # the file's, not the log's
    assert precise.process_seconds == {"train": 2.214, "export": 1.5}


def test_set_param_changes_one_value(tmp_path: Path, root: Path) -> None:
    params_file = tmp_path / "params.yaml"
    shutil.copy(root / "params.yaml", params_file)
    changed = repro.changed_param(params_file)
    family = repro.get_param(params_file, "train.family")
    assert changed.startswith(f"train.{family}.") and changed.split(".")[-1] in repro.SIZE_SETTINGS
    old = repro.get_param(params_file, changed)
    assert repro.set_param(params_file, changed, old + 1) == old
    assert repro.get_param(params_file, changed) == old + 1
    assert repro.get_param(params_file, "data.target") == repro.get_param(
        root / "params.yaml", "data.target"
    )


def test_the_report_renders_every_section(
    frame: pd.DataFrame,
    contract: pa.DataFrameSchema,
    rules: Rules,
    tiny_models: latency.Models,
    root: Path,
    params: Params,
) -> None:
    engines = {
        e: validation.measure_engine(e, frame, root / params.data.contract, repeats=1)
        for e in validation.ENGINES
    }
    agreement = validation.check_agreement(frame, contract, rules, seed=0)
    checked = validation.ValidationResult(ROWS, ROWS, 0, 1.0, agreement, engines)
    timings = '{"stage": "train", "seconds": 2.5, "work_seconds": 1.0}\n'
    logs = [repro.parse_log(9.0, "Running stage 'train':\n[train] done in 1.0s\n", 8.0, timings)]
    repro_result = repro.ReproResult(
        "abc1234",
        ROWS,
        "train.x.max_iter: 100 -> 101, ...",
        [
            repro.Scenario(name, logs, variant)
            for variant in startup_bench.VARIANTS
            for name in ("cold", "no-op", repro.FORCED, "train param changed")
        ]
        + [repro.Scenario(repro.large(name, 1_000_000), logs) for name in ("cold", "no-op")],
    )
    startup = [
        StartupRow(
            f"python -c 'import tabpipe.pipeline.{stage}'",
            stage,
            {"compiled": Spread((0.4,)), "no bytecode": Spread((2.0,))},
            {"compiled": Spread((0.3,)), "no bytecode": Spread((1.8,))},
            {"compiled": Spread((0.35,)), "no bytecode": Spread((1.9,))},
            {"compiled": Spread((0.05,)), "no bytecode": Spread((0.06,))},
            {
                **dict.fromkeys(startup_bench.PACKAGE_GROUPS, 0.0),
                "SciPy": 0.3,
                OWN: 0.1,
                startup_bench.OTHER: 0.0,
            },
        )
        for stage in ("gate", "train")
    ]
    results = report.Results(
        machine.finished(machine.describe(root)),
        report.QUICK,
        "python -m benchmarks.run --quick",
        60.0,
        repro_result,
        startup,
        checked,
        latency.measure(tiny_models, single_calls=5, batch_rows=50, batch_calls=2, warmup=1),
    )
    text = report.render(results)
    headings = ["## Machine", "## `dvc repro`", "### Process start-up", "## Validation", "## Pred"]
    assert all(heading in text for heading in headings)
    assert not re.search(r"\bnan\b", text, flags=re.IGNORECASE)
    assert "| cold | no bytecode | 1 |" in text
    assert "A forced run of all 1 stages took 9.0 s compiled (CPU 8.0 s, stage bodies 1.0 s" in text
    assert "against 9.0 s with no bytecode" in text
    assert (
        "Where the time went: DVC's floor 9.0 s; the 1 stage processes 2.5 s from their start "
        "to the end of their work (bodies 1.0 s, Python start-up and imports 1.5 s: train "
        "1.50 s); the remaining 0.0 s" in text
    )
    assert (
        "start in at most 0.30 s of CPU with compiled bytecode (gate; goal under 0.5 s each: met"
        in text
    )
    # train's 1.5 s start-up, split by its import shares (SciPy 0.3 s, tabpipe 0.1 s).
    assert "about 1.1 s is loading the libraries the stages use and about 0.38 s" in text
    assert "Loading the libraries alone" not in text  # 1.1 s: less than bodies + floor, 10 s
    assert "On a larger table (1,000,000 rows, synthetic) the cold run of all 1 stages" in text
    assert "| train | 0.40 | " in text and "0.30 (75%)" in text
    assert "tabpipe's own modules and the project's take 0.10 to 0.10 s" in text
    assert "25% to 25% of them" in text and "The largest part is SciPy in gate, train" in text


def test_percentiles_and_spread() -> None:
    p = Percentiles.of([1, 2, 3, 4, 100])
    assert p.n == 5 and p.p50_ns == 3 and 4 < p.p99_ns <= 100
    s = Spread((3.0, 1.0, 2.0))
    assert (s.median, s.min, s.n) == (2.0, 1.0, 3)


def test_a_column_without_dtype_is_checked_for_presence_and_nulls_only(tmp_path: Path) -> None:
    # `tabpipe init --exclude` keeps such columns in the contract with no dtype.
    path = tmp_path / "contract.yaml"
    path.write_text(
        "columns:\n  Name:\n    nullable: false\n  x:\n    dtype: float64\n    coerce: true\n"
        "strict: true\n",
        encoding="utf-8",
    )
    rules = load_rules(path)
    clean = pd.DataFrame({"Name": ["a", 3, "c"], "x": [1.0, 2.0, 3.0]})
    findings, coerced = validate(clean, rules)
    assert findings == [] and coerced is not None
    assert coerced["Name"].tolist() == ["a", 3, "c"], "values of any type pass through as they are"
    findings, _ = validate(clean.assign(Name=["a", None, "c"]), rules)
    assert [(f.column, f.check) for f in findings] == [("Name", "not_nullable")]
    findings, _ = validate(clean.drop(columns="Name"), rules)
    assert [(f.column, f.check) for f in findings] == [("Name", "missing column")]


def _provenance(command: str = "python -m benchmarks.run") -> document.Provenance:
    return document.Provenance(command, "2026-01-01 00:00 UTC", "abc1234", False, 1.5, 2, 0.5)


def test_a_run_replaces_its_sections_and_keeps_the_others_byte_for_byte() -> None:
    kept = document.section(
        "scale", "## Scale\n\n| rows |\n| ---: |\n| 10 |\n\nA note by hand.  \n", "*old run*"
    )
    old_drift = document.section("drift", "## Drift\n\nold figures\n", _provenance())
    existing = document.merge(None, {"drift": old_drift, "scale": kept})
    assert document.split(existing) == {"drift": old_drift, "scale": kept}

    new_drift = document.section("drift", "## Drift\n\nnew figures\n", _provenance("new"))
    merged = document.merge("# stale title\n" + existing, {"drift": new_drift})
    assert merged.startswith(document.HEADER) and "stale title" not in merged
    assert kept in merged, "a section that was not run is kept exactly"
    assert "new figures" in merged and "old figures" not in merged
    assert list(document.split(merged)) == ["drift", "scale"], "in the document's order"
    assert "*Measured by `new` on 2026-01-01 00:00 UTC" in document.split(merged)["drift"]


def test_a_document_with_broken_markers_is_refused() -> None:
    block = document.section("drift", "## Drift\n\nfigures\n", _provenance())
    with pytest.raises(document.MalformedDocument):
        document.split(block + block)
    with pytest.raises(document.MalformedDocument):
        document.split(block.replace("<!-- bench:end drift -->", ""))


def test_make_bench_runs_serving_and_drift_and_updates_only_their_sections(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: dict[str, dict[str, float]] = {}

    def fake_serving(root: Path, *, settings: serving.Settings) -> serving.ServingResult:
        calls["serving"] = {"duration_s": settings.duration_s}
        loads = [
            serving.LoadResult(b, m, 100 if m == "batch" else 1, 50, 0, 10.0, 4.0, 9.0)
            for m in serving.MODES
            for b in serving.BACKENDS
        ]
        return serving.ServingResult("gradient_boosting", settings, "0", concurrent=loads)

    def fake_drift(root: Path, *, rows: int, repeats: int) -> drift.DriftBench:
        calls["drift"] = {"rows": rows, "repeats": repeats}
        spread = Spread((1.0,) * repeats)
        kinds = [
            drift.KindResult(kind, rows, 1.0, spread, spread, spread, []) for kind in drift.KINDS
        ]
        return drift.DriftBench(rows, 3, repeats, kinds, 100.0, "params.yaml")

    monkeypatch.setattr(bench_run.serving, "run", fake_serving)
    monkeypatch.setattr(bench_run.drift, "run", fake_drift)
    monkeypatch.setattr(bench_run, "SCRATCH", tmp_path / "scratch")
    monkeypatch.chdir(root)
    assert {"serving", "drift"} <= set(bench_run.BENCHMARKS)
    output = tmp_path / "benchmarks.md"
    kept = document.section("latency", "## Latency\n\nkept as is\n", "*an older run*")
    output.write_text(document.merge(None, {"latency": kept}), encoding="utf-8")

    argv = ["--only", "serving", "drift", "--output", str(output)]
    assert bench_run.main(argv) == 0
    assert calls == {"serving": {"duration_s": 20.0}, "drift": {"rows": 1_000_000, "repeats": 5}}
    text = output.read_text(encoding="utf-8")
    sections = document.split(text)
    assert list(sections) == ["machine", "latency", "serving", "drift"]
    assert sections["latency"] == kept
    command = "python -m benchmarks.run " + " ".join(argv)
    for name in ("machine", "serving", "drift"):
        assert f"*Measured by `{command}`" in sections[name]
    assert "| 1 row (`/predict`) | onnx |" in sections["serving"]
    assert "1,000,000 incoming rows" in sections["drift"]
    dump = json.loads((tmp_path / "scratch" / "benchmarks.json").read_text(encoding="utf-8"))
    assert {"serving", "drift", "provenance"} <= set(dump)
    assert set(dump["provenance"]) == {"machine", "serving", "drift"}

    assert bench_run.main(["--quick", "--only", "serving", "--output", str(output)]) == 0
    assert calls["serving"] == {"duration_s": 5.0}
    sections = document.split(output.read_text(encoding="utf-8"))
    assert "**Quick run**" in sections["serving"] and "**Quick run**" not in sections["drift"]
    assert sections["latency"] == kept


def test_a_failing_benchmark_keeps_the_sections_measured_before_it(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_serving(root: Path, *, settings: serving.Settings) -> serving.ServingResult:
        return serving.ServingResult("gradient_boosting", settings, "0")

    def failing_drift(root: Path, *, rows: int, repeats: int) -> drift.DriftBench:
        raise RuntimeError("drift broke")

    monkeypatch.setattr(bench_run.serving, "run", fake_serving)
    monkeypatch.setattr(bench_run.drift, "run", failing_drift)
    monkeypatch.setattr(bench_run, "SCRATCH", tmp_path / "scratch")
    monkeypatch.chdir(root)
    output = tmp_path / "benchmarks.md"
    argv = ["--only", "serving", "drift", "--output", str(output)]
    with pytest.raises(RuntimeError, match="drift broke"):
        bench_run.main(argv)
    assert list(document.split(output.read_text(encoding="utf-8"))) == ["machine", "serving"]

    output.write_text("# Benchmarks\n\nan old document without section markers\n", "utf-8")
    monkeypatch.setattr(bench_run.serving, "run", failing_drift)  # refused before it runs
    with pytest.raises(SystemExit):
        bench_run.main(["--only", "serving", "--output", str(output)])
    assert "without section markers" in output.read_text(encoding="utf-8")


def test_both_engines_agree_on_a_word_in_integer_codes(tmp_path: Path) -> None:
    # A table with integer codes, onboarded as init would, whatever the project's data:
    # pandera reports isin beside coerce_dtype there (diabetes' sex 1/2), the baseline did not.
    import yaml

    from tabpipe.core.contract import load_contract
    from tabpipe.onboarding.plan import contract_spec, plan
    from tests.support.factories import kinds_table

    table = kinds_table()
    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump(contract_spec(table, plan(table, "y"), "kinds")))
    bad = table.astype({"plan_code": object})
    bad.loc[[3, 5], "plan_code"] = "three"
    case = validation.compare("a word in codes", bad, load_contract(path), load_rules(path))
    assert {(f.column, f.check) for f in case.findings} >= {("plan_code", "isin")}


def test_import_time_is_summed_by_library_without_counting_a_module_twice() -> None:
    report = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       100 |        100 |     scipy.stats._stats_py\n"
        "import time:       200 |        300 |   scipy.stats\n"
        "import time:        50 |        350 | sklearn\n"
        "import time:        30 |         30 | credit_scoring.models\n"
        "import time:        20 |         20 | tabpipe.core.config\n"
        "import time:        10 |         10 | json\n"
        "[train] done in 0.2s\n"
    )
    shares = startup_bench.imports_by_library(report, ("credit_scoring",))
    assert shares["SciPy"] == pytest.approx(300e-6)
    assert shares["scikit-learn"] == pytest.approx(50e-6)
    assert shares[OWN] == pytest.approx(50e-6)  # tabpipe and the project's package
    assert shares[startup_bench.OTHER] == pytest.approx(10e-6)
    assert sum(shares.values()) == pytest.approx(410e-6)


def test_start_up_is_split_into_libraries_and_tabpipe_by_import_shares() -> None:
    shares = {**dict.fromkeys([*startup_bench.PACKAGE_GROUPS, startup_bench.OTHER], 0.0)}
    row = StartupRow(
        "python -c 'import tabpipe.pipeline.train'",
        "train",
        {},
        {},
        imports_by_library={**shares, "SciPy": 0.6, "pandas, pyarrow, NumPy": 0.3, OWN: 0.1},
    )
    slow = report._libraries_floor({"train": 2.0}, [row], bodies_and_floor=1.0)
    assert "about 1.8 s is loading the libraries the stages use and about 0.20 s" in slow
    assert "takes longer than the stage bodies and DVC's floor together (1.0 s)" in slow
    fast = report._libraries_floor({"train": 2.0}, [row], bodies_and_floor=5.0)
    assert "about 1.8 s is loading" in fast and "takes longer" not in fast
    # A stage the start-up benchmark did not trace: no split is claimed.
    assert report._libraries_floor({"train": 2.0, "split": 0.3}, [row], 1.0) == ""


def test_findings_of_the_table_and_of_its_columns_are_listed_together() -> None:
    """Defect: on an onboarded iris, a corruption failed a column's check and the table's
    duplicate cap at once, and sorting the findings raised TypeError (None < 'sepal')."""
    from benchmarks.pandas_contract import Finding, in_order

    found = [Finding("sepal", "in_range", 2), Finding(None, "max_duplicate_fraction", 5)]
    assert in_order(found) == [found[1], found[0]]
