# The prediction service: FastAPI + onnxruntime, nothing else (no pandas, scikit-learn, DVC).
#
#   make bundle                                   # build/bundle: model.onnx, model.json, card
#   docker build -t tabpipe-serve .               # bakes build/bundle into the image (/model)
#   docker run --rm -p 8000:8000 tabpipe-serve    # http://127.0.0.1:8000/docs
#
# Or mount a model instead of baking one in (e.g. a release's assets in ./release):
#   docker run --rm -p 8000:8000 -v "$PWD/release:/model:ro" tabpipe-serve
#
# Without Docker, the same thing: `make serve`, or in an environment with only the serve
# group: `python -m tabpipe.serving.app --model-dir build/bundle`.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS environment
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/venv
RUN python -m pip install --no-cache-dir "uv==0.13.8"
WORKDIR /build
COPY pyproject.toml uv.lock ./
# Exactly the locked `serve` dependency group, and not the project's own dependencies,
# compiled to bytecode at install (PYTHONDONTWRITEBYTECODE=1 below: nothing is cached later).
RUN uv sync --locked --only-group serve --no-install-project --no-cache --compile-bytecode

# The model, readable by the service's user whatever permissions the bundle was written
# with (COPY keeps them: a file written 0600 by root would be unreadable by uid 10001).
FROM ${PYTHON_IMAGE} AS model
ARG MODEL_DIR=build/bundle
COPY ${MODEL_DIR}/ /model/
RUN chmod -R a+rX,go-w /model

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin serve
COPY --from=environment /venv /venv
COPY src/tabpipe/__init__.py /app/tabpipe/__init__.py
COPY src/tabpipe/serving/ /app/tabpipe/serving/
COPY src/tabpipe/core/__init__.py /app/tabpipe/core/__init__.py
COPY src/tabpipe/core/dvcfiles.py /app/tabpipe/core/dvcfiles.py
COPY src/tabpipe/core/paths.py /app/tabpipe/core/paths.py
COPY src/tabpipe/core/threads.py /app/tabpipe/core/threads.py
COPY --from=model /model/ /model/
ENV PATH=/venv/bin:$PATH PYTHONPATH=/app PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status != 200)"]
ENTRYPOINT ["python", "-m", "tabpipe.serving.app", "--model-dir", "/model", "--host", "0.0.0.0", "--port", "8000"]
