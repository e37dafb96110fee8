"""The prediction service and what it needs at run time, and nothing more.

Everything under ``tabpipe.serving`` imports only the standard library, numpy,
onnxruntime, pydantic, FastAPI and uvicorn (the ``serve`` dependency group), so it runs in
a slim image or a clean virtualenv without pandas, scikit-learn, pandera or DVC. Infra
validation runs it in exactly such an environment.
"""
