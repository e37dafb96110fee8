"""Your project's code: the model families ``params.yaml`` can choose.

- ``models.py``: each family with its settings, its estimator and how it exports to ONNX.

What the model sees is set in ``params.yaml`` (``features``: numeric, categorical and derived
columns) and guarded by ``contracts/data.yaml``. The pipeline, CI, release, serving and
monitoring code is the template's machinery beside this package, kept as the template has it
so that its later fixes merge into your project (docs/onboarding.md, "Taking template
updates"). ``init`` renames this package to your project's name, and ``params.yaml``
(``project.package``) names it.
"""
