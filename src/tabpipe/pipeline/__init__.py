"""The pipeline stages: one module per ``dvc.yaml`` stage, of the same name.

``dvc repro`` runs ``python -m tabpipe.pipeline.<stage>``; ``tabpipe <stage>`` runs the same
code by hand. Each stage's tests are ``tests/pipeline/test_<stage>.py``.

Importing this package sizes the native thread pools first (:mod:`tabpipe.core.threads`):
``python -m tabpipe.pipeline.<stage>`` runs it before the stage module loads numpy. Such a
stage process also skips the optional imports no stage uses (:mod:`tabpipe.core.startup`).
"""

from tabpipe.core import startup, threads

threads.configure()
startup.prepare_stage_process()
