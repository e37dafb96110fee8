"""tabpipe: the template's machinery, from versioned tabular data to a released, monitored model.

Everything under ``src/tabpipe`` is the same in every project made from the template, split by
concern: the shared core (``core``: typed params, paths, I/O, the data contract, metrics, the
model and its ONNX export), one module per ``dvc.yaml`` stage (``pipeline``), the CI jobs and
the pull-request report (``ci``), the gate's champion, the registry, bundles and deploys
(``release``), the prediction service (``serving``), drift, degradation and retraining
triggers (``monitoring``) and ``tabpipe init`` (``onboarding``). Keep it as the template has
it, so that later template fixes merge into your project. What you change lives beside it:
``params.yaml``, ``contracts/data.yaml`` and your project package (``src/<project>/models.py``,
your model families); see "What you edit" in README.md.
"""

__version__ = "0.1.0"
