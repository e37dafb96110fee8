"""Benchmarks for tabpipe (issue 2, item 11); ``make bench`` runs them via ``benchmarks.run``.

Not part of the installed package: run from the repository root (``python -m benchmarks.run``).
One module per benchmark family: :mod:`benchmarks.repro` (DVC pipeline wall time),
:mod:`benchmarks.validation` (pandera vs plain pandas, with :mod:`benchmarks.pandas_contract`),
:mod:`benchmarks.latency` (onnxruntime vs scikit-learn); :mod:`benchmarks.report` writes
``docs/benchmarks.md``.
"""
