"""Benchmarks for tabpipe (issue 2, item 11); ``make bench`` runs them via ``benchmarks.run``.

Not part of the installed package: run from the repository root (``python -m benchmarks.run``).
One module per benchmark family: :mod:`benchmarks.repro` (DVC pipeline wall time),
:mod:`benchmarks.validation` (pandera vs plain pandas, with :mod:`benchmarks.pandas_contract`),
:mod:`benchmarks.latency` (onnxruntime vs scikit-learn in-process), :mod:`benchmarks.serving`
(the service under a locust load test, onnxruntime vs scikit-learn), :mod:`benchmarks.drift`
(drift check on a 1M-row batch), :mod:`benchmarks.scale` (the stages on 10k to 10M rows);
:mod:`benchmarks.report` renders the sections and :mod:`benchmarks.document` merges them into
``docs/benchmarks.md``, one section per benchmark, each refreshed on its own.
"""

import os

from tabpipe.core import threads

# The thread variables as this process inherited them, before configure() fills in those
# unset (the Machine section shows both).
INHERITED = {name: os.environ.get(name) for name in (*threads.POOL_VARIABLES, threads.WAIT_POLICY)}
# Before any benchmark module loads numpy, scikit-learn or onnxruntime, as the stages, the
# service and the command line do: pools sized to this process's CPUs, passive waiting.
threads.configure()
