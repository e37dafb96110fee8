"""The pipeline stages: one module per ``dvc.yaml`` stage, of the same name.

``dvc repro`` runs ``python -m tabpipe.pipeline.<stage>``; ``tabpipe <stage>`` runs the same
code by hand. Each stage's tests are ``tests/pipeline/test_<stage>.py``.

Importing this package sizes the native thread pools first (:mod:`tabpipe.core.threads`):
``python -m tabpipe.pipeline.<stage>`` runs it before the stage module loads numpy.
"""

from tabpipe.core import threads

threads.configure()
