"""``tabpipe serve``: the prediction service (FastAPI + onnxruntime).

Loads ``model.onnx`` and ``model.json`` from a model bundle (``tabpipe bundle`` writes one;
a release carries one) once, at start, and answers:

- ``POST /predict``          one row: ``{"feature": value, ...}``
- ``POST /predict/batch``    ``{"rows": [row, ...]}``, 1 to ``max_batch`` rows
- ``POST /predict/columns``  ``{"columns": {"feature": [values...], ...}}``, equal lengths
- ``GET /health`` (alive), ``GET /ready`` (model loaded and warmed up), ``GET /metadata``
  (version, data hash, metrics), ``/docs`` and ``/openapi.json``

A bad request gets 422 and a message naming each field at fault, never a 500: NaN and
Infinity tokens, numbers outside the contract's range or float32's, booleans or strings
for numbers, unknown categories, missing or extra fields, a key given twice, columns of
different lengths, an empty or oversized batch, a body that is not JSON or not sent as JSON.

What it accepts is bounded (:mod:`tabpipe.serving.limits`; ``release`` in params.yaml, then
model.json, then these flags): a body over ``max_body_bytes`` gets 413 before it is read,
one that has not arrived within ``body_timeout_s`` gets 408, and beyond ``max_concurrent``
requests in flight a new one gets 503. Every ``GET`` also answers ``HEAD``.

Without Docker: ``tabpipe serve --model-dir build/bundle`` (``make serve``), or in a bare
environment with only the serve group: ``python -m tabpipe.serving.app --model-dir DIR``.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoint annotations, and
# the request models are local variables built from the model's metadata.
# The thread pools are sized before numpy and onnxruntime are imported, hence:
# ruff: noqa: E402
import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tabpipe.core import threads  # stdlib only: the serving image carries it

threads.configure()

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from tabpipe.core.paths import BUNDLE_DIR
from tabpipe.serving.limits import (
    RequestLimits,
    ServiceLimits,
    StrictJsonRoute,
    refusal,
)
from tabpipe.serving.runtime import ModelLoadError, Prediction, ServingModel
from tabpipe.serving.schema import (
    ErrorResponse,
    batch_model,
    batch_response_model,
    columns_model,
    prediction_model,
    row_model,
    rows_from,
    single_response_model,
)

DEFAULT_MAX_BATCH = 1000
MAX_BATCH_ENV = "TABPIPE_MAX_BATCH"
JSON_TYPES = ("application/json",)
ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "The request is invalid; see message."}
}


def _field_of(loc: Sequence[Any]) -> str | None:
    """The feature or field an error is about: the last string in its location."""
    names = [str(part) for part in loc if isinstance(part, str) and part != "body"]
    return names[-1] if names else None


def _path_of(loc: Sequence[Any]) -> str:
    """Where in the body: ``Age``, ``rows[3].Age``, ``columns.Age[2]``."""
    path = ""
    for part in loc:
        if part in {"body", "header"}:
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _message(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind in {"less_than_equal", "greater_than_equal", "less_than", "greater_than"}:
        bound = next(iter(ctx.values()), None) if isinstance(ctx, Mapping) else None
        if isinstance(bound, int | float):
            word = {"less_than_equal": "<=", "greater_than_equal": ">=", "less_than": "<"}.get(
                kind, ">"
            )
            return f"Input should be {word} {bound:g}"
    if kind == "json_invalid":
        reason = ctx.get("error") if isinstance(ctx, Mapping) else None
        return f"The body is not valid JSON ({reason})" if reason else "The body is not valid JSON"
    return str(error.get("msg", "invalid"))


def error_response(errors: Sequence[Mapping[str, Any]]) -> JSONResponse:
    """422 with every problem, without echoing the input (it may hold NaN or Infinity)."""
    items: list[dict[str, Any]] = []
    for error in errors:
        loc = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
        items.append(
            {
                "loc": loc,
                "field": _field_of(loc),
                "msg": _message(error),
                "type": str(error.get("type", "invalid")),
            }
        )
    paths = [_path_of(i["loc"]) for i in items]
    message = "; ".join(
        f"{path}: {i['msg']}" if path else str(i["msg"])
        for path, i in zip(paths, items, strict=True)
    )
    return JSONResponse(status_code=422, content={"message": message, "detail": items})


async def _require_json(request: Request) -> None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES:
        shown = content_type or "none"
        raise RequestValidationError(
            [
                {
                    "loc": ("header", "content-type"),
                    "msg": f"Content-Type must be application/json, not {shown}",
                    "type": "content_type",
                }
            ]
        )


JSON_ONLY = [Depends(_require_json)]  # runs before the body is parsed


def _warm_up_row(model: ServingModel) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for f in model.features:
        if f.kind == "categorical":
            row[f.name] = f.categories[0] if f.categories else None
        elif f.kind == "boolean":
            row[f.name] = False
        else:
            low = 0.0 if f.minimum is None else f.minimum
            row[f.name] = low if f.maximum is None else (low + f.maximum) / 2
    return row


def create_app(
    model_dir: Path,
    max_batch: int | None = None,
    model: ServingModel | None = None,
    limits: ServiceLimits | None = None,
) -> FastAPI:
    """The service for one model bundle (raises ModelLoadError if it cannot be served).

    ``model`` replaces the bundle's onnxruntime model with another predictor of the same
    bundle (the serving benchmark compares scikit-learn behind the very same service).
    ``limits`` default to the bundle's ``serving`` settings, then to the module defaults.
    """
    model = model or ServingModel(model_dir)
    serving = model.metadata.get("serving") or {}
    if not isinstance(serving, dict):
        raise ModelLoadError(f"{model_dir / 'model.json'}: 'serving' must be an object")
    limit = int(
        max_batch or os.environ.get(MAX_BATCH_ENV) or serving.get("max_batch") or DEFAULT_MAX_BATCH
    )
    try:
        limits = limits or ServiceLimits.from_settings(serving)
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"{model_dir / 'model.json'}: bad serving limits: {exc}") from exc
    started = time.perf_counter()
    model.predict_rows([_warm_up_row(model)])
    warm_up_ms = (time.perf_counter() - started) * 1000

    Row = row_model(model.features)
    Batch = batch_model(Row, limit)
    Columns = columns_model(model.features, limit)
    Pred = prediction_model(model.task, model.classes)
    Single = single_response_model(Pred)
    Many = batch_response_model(Pred)

    app = FastAPI(
        title=f"{model.metadata.get('artifact', 'model')} prediction service",
        version=model.version,
        description=(
            f"Predicts `{model.metadata.get('target')}` ({model.task}) from "
            f"{len(model.features)} features. Model {model.version}, data md5 "
            f"{model.metadata.get('data_md5')}."
        ),
    )
    app.router.route_class = StrictJsonRoute  # a key given twice is refused (422)
    app.add_middleware(
        RequestLimits,
        max_concurrent=limits.max_concurrent,
        body_timeout_s=limits.body_timeout_s,
        max_body_bytes=limits.max_body_bytes,
    )
    app.state.model = model
    app.state.max_batch = limit
    app.state.limits = limits

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(exc.errors())

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 400:  # FastAPI could not even decode the body (e.g. not UTF-8)
            reason = f"The body could not be read as JSON: {exc.detail}"
            return error_response([{"loc": ("body",), "msg": reason, "type": "body_unreadable"}])
        if exc.status_code in (408, 413):  # the body was too slow, or grew past the limit
            kind = "body_timeout" if exc.status_code == 408 else "body_too_large"
            return refusal(exc.status_code, str(exc.detail), kind)
        return await http_exception_handler(request, exc)

    def get_and_head(path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """``GET path``, and ``HEAD path`` answered by the same function (not in the schema)."""

        def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
            app.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False)
            return app.get(path)(endpoint)

        return register

    def answer(predictions: list[Prediction]) -> dict[str, Any]:
        return {"model_version": model.version, "predictions": [p.to_dict() for p in predictions]}

    @get_and_head("/health")
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @get_and_head("/ready")
    def ready() -> dict[str, Any]:
        """Readiness: the model is loaded and answered a warm-up prediction."""
        return {"ready": True, "model_version": model.version, "warm_up_ms": round(warm_up_ms, 3)}

    @get_and_head("/metadata")
    def metadata() -> dict[str, Any]:
        """Which model this is: version, commit, data hash, metrics, gate verdict, inputs."""
        meta = model.metadata
        keys = (
            "artifact", "version", "commit", "data_md5", "onnx_md5", "task", "target",
            "positive_class", "classes", "metrics", "slices", "gate", "inputs", "created_at",
        )  # fmt: skip
        return {
            "model_version": model.version,
            **{k: meta.get(k) for k in keys},
            "max_batch": limit,
            "limits": asdict(limits),
        }

    # The endpoints are coroutines: FastAPI runs a plain function in its thread pool, and
    # its dependencies and response validation too (three thread hops a request, which cost
    # more than one row's prediction). One row is predicted on the event loop (well under a
    # millisecond); a batch's prediction goes to a worker thread, so that the loop keeps
    # answering while onnxruntime (which releases the GIL) works on it.
    @app.post("/predict", response_model=Single, responses=ERRORS, dependencies=JSON_ONLY)
    async def predict(row: Row) -> dict[str, Any]:  # type: ignore[valid-type]
        """Predict one row."""
        (prediction,) = model.predict_rows([row.model_dump(by_alias=True)])  # type: ignore[attr-defined]
        return {"model_version": model.version, **prediction.to_dict()}

    @app.post("/predict/batch", response_model=Many, responses=ERRORS, dependencies=JSON_ONLY)
    async def predict_batch(batch: Batch) -> dict[str, Any]:  # type: ignore[valid-type]
        """Predict a batch of rows."""
        return answer(await run_in_threadpool(model.predict_rows, rows_from(batch)))

    @app.post("/predict/columns", response_model=Many, responses=ERRORS, dependencies=JSON_ONLY)
    async def predict_columns(batch: Columns) -> dict[str, Any]:  # type: ignore[valid-type]
        """Predict a batch given column-wise: one list per feature, all the same length."""
        columns = batch.columns.model_dump(by_alias=True)  # type: ignore[attr-defined]
        return answer(await run_in_threadpool(model.predict_columns, columns))

    return app


def serve(app: FastAPI, host: str, port: int) -> None:
    """Run ``app`` with uvicorn until the process is stopped."""
    import gc

    import uvicorn

    # What is loaded by now (libraries, the model, the request schemas) lives as long as the
    # process: frozen, it leaves the collector's generations, so the full collections that a
    # large batch's thousands of objects set off no longer walk it (a 1,000-row batch's p99
    # about halved; docs/releasing.md, "How a request runs").
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_level="warning")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tabpipe serve", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument(
        "--model-dir", type=Path, default=BUNDLE_DIR,
        help="folder with model.onnx and model.json (default: build/bundle, from make bundle)",
    )  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument(
        "--max-batch", type=int, help=f"largest batch (default: model.json or ${MAX_BATCH_ENV})"
    )
    parser.add_argument(
        "--max-body-bytes", type=int, help="largest request body (default: model.json, 4 MiB)"
    )
    parser.add_argument(
        "--body-timeout", type=float, help="seconds to receive a body (default: model.json, 10)"
    )
    parser.add_argument(
        "--max-concurrent", type=int, help="requests in flight (default: model.json, 32)"
    )
    args = parser.parse_args(argv)
    try:
        loaded = ServingModel(args.model_dir)
        serving = loaded.metadata.get("serving")
        limits = ServiceLimits.from_settings(
            serving if isinstance(serving, dict) else {},
            max_body_bytes=args.max_body_bytes,
            body_timeout_s=args.body_timeout,
            max_concurrent=args.max_concurrent,
        )
        app = create_app(args.model_dir, args.max_batch, model=loaded, limits=limits)
    except (TypeError, ValueError) as exc:
        print(f"tabpipe serve: {exc}", file=sys.stderr)
        return 1
    except ModelLoadError as exc:
        print(f"tabpipe serve: {exc}", file=sys.stderr)
        return 1
    model: ServingModel = app.state.model
    print(
        f"serving {model.version} from {args.model_dir} on http://{args.host}:{args.port}",
        flush=True,
    )
    serve(app, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
