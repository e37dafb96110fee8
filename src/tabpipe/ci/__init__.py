"""What the GitHub workflows run around ``dvc repro``.

DVC remotes and results (``workflow``, ``remote``), the pull-request report and its plots
(``report``, ``charts``), the sticky comment (``comment``) and experiment sweeps
(``sweep``). Modules a job runs before installing the project import only the standard
library (a test checks it).
"""
