"""The shared core every other part builds on.

Typed config (``config``), every path (``paths``), the project package (``project``), table
and artifact I/O (``io``), the data contract (``contract``), metrics (``metrics``), the
Pipeline a project trains (``model``, ``derived``, ``expressions``), ONNX conversion and
runtime (``onnx_model``), the stage runner (``stage``, ``timings``), git and DVC files
(``git``, ``dvcfiles``) and monitoring exit codes (``exit_status``).
"""
