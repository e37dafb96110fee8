"""The scale benchmark's synthetic data (benchmarks/synthetic.py) and its helpers, on 2k rows.

The synthetic rows must pass the unchanged contract and look like the bundled data: same
columns and dtypes, categories from the same domains in similar shares, similar missing
rates, label balance and numeric centres. The full benchmark runs in ``make bench``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmarks.scale import (
    STAGES,
    ScaleResult,
    SizeRun,
    StageRun,
    body_seconds,
    label,
    load,
    markdown,
    parse_sizes,
    standalone,
)
from benchmarks.synthetic import (
    chunks,
    contract_bounds,
    copied_columns,
    numeric_columns,
    write_parquet,
)
from tabpipe.core.config import load_params
from tabpipe.core.contract import check, load_contract
from tabpipe.core.io import read_table
from tests.conftest import ROOT

ROWS = 2_000


@pytest.fixture(scope="module")
def source() -> tuple[pd.DataFrame, Path]:
    params = load_params(ROOT / "params.yaml")
    return read_table(ROOT / params.data.raw), ROOT / params.data.contract


_PARAMS = load_params(ROOT / "params.yaml")
# Copied, never jittered: the label, and integer codes or booleans the contract enumerates.
LABEL = copied_columns(_PARAMS.data.target, ROOT / _PARAMS.data.contract)


@pytest.fixture(scope="module")
def generated(source, tmp_path_factory) -> pd.DataFrame:
    frame, contract = source
    path = tmp_path_factory.mktemp("scale") / "synthetic.parquet"
    seen: list[int] = []
    written = write_parquet(
        frame, ROWS, path, bounds=contract_bounds(contract), seed=1, chunk_rows=700,
        progress=seen.append, keep=LABEL,
    )  # fmt: skip
    assert written == ROWS
    assert seen == [700, 1400, 2000]  # three chunks appended to one file
    return pd.read_parquet(path)


def test_synthetic_rows_pass_the_contract(source, generated):
    _, contract = source
    report, validated = check(generated, load_contract(contract), source="synthetic", contract="c")
    assert report.ok, report.summary()
    assert validated is not None and len(validated) == ROWS


def test_synthetic_rows_keep_columns_domains_and_missing_rates(source, generated):
    frame, _ = source
    assert list(generated.columns) == list(frame.columns)
    numeric = numeric_columns(frame)
    for name in frame.columns:
        missing_gap = abs(generated[name].isna().mean() - frame[name].isna().mean())
        assert missing_gap < 0.03, f"{name}: missing rate moved by {missing_gap:.3f}"
        if name in numeric:
            spread = frame[name].std()
            gap = abs(generated[name].mean() - frame[name].mean())
            assert gap < 0.15 * spread, f"{name}: mean moved by {gap:.3g} (std {spread:.3g})"
        else:
            source_share = frame[name].value_counts(normalize=True)
            share = generated[name].value_counts(normalize=True)
            assert set(share.index) <= set(source_share.index), f"{name}: new categories"
            gaps = (share.reindex(source_share.index, fill_value=0) - source_share).abs()
            assert gaps.max() < 0.05, f"{name}: category shares moved by {gaps.max():.3f}"


def test_numeric_values_are_jittered_not_copied(source):
    frame, contract = source
    tagged = frame.assign(row=frame.index.astype(str))  # a text column is copied, not jittered
    synthetic = next(chunks(tagged, 2_000, bounds=contract_bounds(contract), seed=3))
    origin = frame.loc[synthetic["row"].astype(int)].reset_index(drop=True)
    # The three numeric features with the most distinct values: a 5% jitter on a small
    # whole number (a count of cylinders, say) rounds back to the same value.
    numeric = load_params(ROOT / "params.yaml").features.numeric
    varied = sorted(numeric, key=lambda name: frame[name].nunique(), reverse=True)[:3]
    assert varied, "the project has numeric features"
    for name in varied:
        # The jitter multiplies: zeros stay zero (rain on a dry day), so judge the rest.
        present = origin[name].notna() & (origin[name] != 0)
        changed = (synthetic[name][present] != origin[name][present]).mean()
        assert changed > 0.5, f"{name}: only {changed:.0%} of values differ from their source row"
        assert synthetic[name].isna().equals(origin[name].isna())  # missing stays missing


def test_clipping_keeps_even_wild_jitter_inside_the_contract(source):
    frame, contract = source
    bounds = contract_bounds(contract)
    wild = next(chunks(frame, 3_000, bounds=bounds, seed=2, jitter=3.0, keep=LABEL))
    report, _ = check(wild, load_contract(contract), source="wild", contract="c")
    # Such jitter clips most values to a bound, so on a table with few numeric columns
    # (penguins: four) rows repeat beyond the contract's duplicate cap; that cap judges the
    # data, not the clipping. The scale benchmark's own jitter (5%) keeps rows distinct.
    broken = [f for f in report.failures if not f.check.startswith("max_duplicate_fraction")]
    assert not broken, report.summary()
    unclipped = next(chunks(frame, 3_000, bounds={}, seed=2, jitter=3.0, keep=LABEL))
    report, _ = check(unclipped, load_contract(contract), source="unclipped", contract="c")
    # Without the contract's bounds the same jitter breaks in_range.
    assert any(f.check.startswith("in_range") for f in report.failures), report.summary()


def test_the_same_seed_gives_the_same_rows(source):
    frame, contract = source
    bounds = contract_bounds(contract)
    first = pd.concat(chunks(frame, 900, bounds=bounds, seed=5, chunk_rows=400))
    again = pd.concat(chunks(frame, 900, bounds=bounds, seed=5, chunk_rows=400))
    other = pd.concat(chunks(frame, 900, bounds=bounds, seed=6, chunk_rows=400))
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_sizes_parse_from_short_forms():
    assert parse_sizes("10k,100k,1M,10M") == (10_000, 100_000, 1_000_000, 10_000_000)
    assert parse_sizes(" 2500, 1.5m ") == (2_500, 1_500_000)
    assert [label(n) for n in (10_000, 1_000_000, 2_500)] == ["10k", "1M", "2,500"]
    for bad in ("", "ten", "-5k"):
        with pytest.raises(ValueError):
            parse_sizes(bad)


def test_the_section_reports_every_stage_and_what_dominates():
    def size(rows: int, train: float, gate: str = "ok") -> SizeRun:
        stages = [
            StageRun(name, seconds, seconds, gib, 1.0, "ok")
            for name, seconds, gib in (
                ("validate", rows / 1e5, 0.5),
                ("split", 1.0, 0.4),
                ("train", train, 2.0),
                ("evaluate", 2.0, 1.0),
                ("export", 3.0, 1.5),
                ("profile", 1.0, 0.5),
            )
        ]
        tail = "" if gate in {"ok", "rejected"} else "boom"
        stages.append(StageRun("gate", 0.5, 0.5, 0.1, 1.0, gate, tail))
        return SizeRun(rows, 0.1, 1.0, stages)

    assert STAGES[-2:] == ("profile", "gate")
    result = ScaleResult(
        "abc1234", 4454, {"train.x": 1}, 0, 24.0, [size(10**5, 10), size(10**6, 90, "rejected")]
    )
    text = markdown(result)
    assert text.count("| 1,000,000 |") == len(STAGES) + 1  # each stage and the total
    assert "train dominated with 90 s" in text
    assert "train x9.0" in text  # growth per stage from the smaller to the larger size
    assert "| 1,000,000 | train | 90.0 | n/a | 90.0 | 2.00 | x9.0 (10x rows) |" in text
    assert "| rejected |" in text and "refused the model" in text, "a gate that says no ran"
    assert "`train.x: 1`" in text
    failed = markdown(ScaleResult("abc1234", 4454, {}, 0, 24.0, [size(10**5, 10, "timeout")]))
    assert "**incomplete**" in failed and "boom" in failed
    assert np.isfinite(result.memory_gib)


def test_a_refusing_gate_without_a_body_time_leaves_the_other_bodies_counted():
    def size(rows: int, factor: float, gate: str) -> SizeRun:
        stages = [
            StageRun(name, 2.0 * factor, 1.5 * factor, 0.3, 1.0, "ok", body_seconds=factor)
            for name in STAGES[:-1]
        ]
        gate_body = 0.1 if gate == "ok" else float("nan")  # no "done in" line when it refuses
        stages.append(StageRun("gate", 0.4, 0.3, 0.03, 1.0, gate, body_seconds=gate_body))
        return SizeRun(rows, 0.1, 1.0, stages)

    result = ScaleResult(
        "abc1234", 4454, {}, 0, 24.0, [size(10**5, 1.0, "ok"), size(10**6, 8.0, "rejected")]
    )
    text = markdown(result)
    bodies = 8.0 * (len(STAGES) - 1)
    assert (
        f"| 1,000,000 | **all stages** | **{2.0 * bodies + 0.4:.1f}** | "
        f"{bodies:.1f} (without gate) |" in text
    )
    assert f"account for {bodies:.0f} s of it (gate logged no body time)" in text
    assert "stage body time (wall time for gate) grew per stage: validate x8.0" in text
    assert "gate x1.0" in text  # its wall time, 0.4 s at both sizes


def test_a_result_survives_its_json_round_trip(tmp_path):
    stage = StageRun("train", 2.0, 1.5, 0.3, 0.7, "ok", body_seconds=1.2)
    result = ScaleResult(
        "abc1234", 4454, {"train.x": 1}, 0, 24.0, [SizeRun(10_000, 0.1, 1.0, [stage])]
    )
    path = tmp_path / "scale.json"
    path.write_text(json.dumps(asdict(result)))
    assert load(path) == result
    assert standalone(load(path), "cmd", "today").startswith("# Benchmarks: scale")


def test_the_stage_body_time_comes_from_its_own_log_line():
    lines = ["[train] fitting", "[train] done in 12.5s", "[export] done in 1.0s"]
    assert body_seconds("train", lines) == 12.5
    assert np.isnan(body_seconds("evaluate", lines))  # a stage that never finished


def test_kept_columns_are_copied_not_jittered():
    source = pd.DataFrame({"x": np.linspace(1.0, 100.0, 50), "label": [100, 200] * 25})
    frame = next(chunks(source, 500, bounds={}, seed=0, keep={"label"}))
    assert frame["label"].dtype == source["label"].dtype
    assert set(frame["label"]) == {100, 200}
    jittered = next(chunks(source, 500, bounds={}, seed=0))
    assert not set(jittered["label"]) <= {100, 200}, "without keep a numeric label is jittered"


def test_every_benchmark_copies_the_codes_and_booleans_a_contract_enumerates(tmp_path):
    # A table with integer codes and booleans, onboarded as init would, whatever the
    # project's data: jittered codes (year 2007 -> 1909) failed the contract's isin in the
    # scoring and validation benchmarks, which copied only the label.
    from benchmarks import validation
    from tabpipe.onboarding.plan import contract_spec, plan
    from tests.support.factories import kinds_table

    frame = kinds_table()
    frame["cohort"] = np.random.default_rng(0).choice([2019, 2020, 2021], len(frame))
    chosen = plan(frame, "y")
    contract = tmp_path / "contracts" / "data.yaml"
    contract.parent.mkdir()
    contract.write_text(yaml.safe_dump(contract_spec(frame, chosen, "kinds")))
    (tmp_path / "data").mkdir()
    frame.to_parquet(tmp_path / "data" / "table.parquet", index=False)
    settings = yaml.safe_load((ROOT / "params.yaml").read_text())
    settings["data"] = {**settings["data"], "raw": "data/table.parquet", "target": "y"}
    settings["data"].update(contract="contracts/data.yaml", task=chosen.task.value)
    settings["data"]["positive_class"] = chosen.positive_class
    settings["features"] = {"numeric": chosen.numeric, "categorical": chosen.categorical}
    settings["split"] = {**settings["split"], "group_by": chosen.group_by}  # the table's own
    settings["evaluate"]["slice_by"] = []
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))

    assert {"cohort", "plan_code", "member", "opted_in", "y"} <= copied_columns("y", contract)
    rows, _ = validation.bench_frame(tmp_path, 1_000, seed=0)
    report, _ = check(rows, load_contract(contract), source="synthetic", contract="kinds")
    assert report.ok, report.summary()
    assert set(rows["cohort"]) <= {2019, 2020, 2021}


def test_a_stage_reports_its_own_peak_memory_and_a_silent_hang_is_killed(tmp_path):
    import os
    import sys

    from benchmarks.scale import run_stage

    ballast = bytearray(300 * 1024**2)  # this process is larger than the stage it starts
    ballast[::4096] = b"\x01" * len(ballast[::4096])
    grow = "x = bytearray(60 * 1024**2); x[::4096] = b'\\x01' * len(x[::4096]); print('done')"
    env = dict(os.environ)
    seconds, cpu, peak, code, lines = run_stage(
        [sys.executable, "-c", grow], cwd=tmp_path, env=env, timeout=120, echo=lambda _: None
    )
    assert (code, lines) == (0, ["done"])
    assert 60 / 1024 < peak < 250 / 1024, f"{peak:.2f} GiB: the stage's own peak, not ours"
    assert cpu >= 0 and seconds > 0
    hang = [sys.executable, "-c", "import time; time.sleep(600)"]
    *_, code, _ = run_stage(hang, cwd=tmp_path, env=env, timeout=1, echo=lambda _: None)
    assert code is None, "killed at its timeout although it printed nothing"
    del ballast
