"""benchmarks/drift.py on a tiny batch, so it cannot rot between `make bench` runs.

No timing is asserted: the benchmark runs, finds the drifted batch drifted and the clean
one clean, and renders its section.
"""

from __future__ import annotations

from benchmarks import drift


def test_the_drift_benchmark_runs_and_checks_its_own_verdicts(root):
    result = drift.run(root, rows=2_000, repeats=1)
    by_kind = {k.kind: k for k in result.kinds}
    (drifted,) = set(by_kind) - {"clean"}  # numeric drift, or categorical without a
    assert drifted in {"drift-numeric", "drift-categorical"}  # continuous numeric feature
    assert by_kind["clean"].drifted == [] and by_kind[drifted].drifted
    assert all(k.total.n == 1 and k.rows_per_second > 0 for k in result.kinds)
    section = drift.markdown(result)
    assert section.startswith("## Drift check on a large batch")
    assert "2,000 incoming rows" in section
