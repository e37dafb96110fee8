"""What the service accepts: body size, body read time, requests at once, duplicate keys.

- **Body size**: a ``Content-Length`` over ``max_body_bytes`` is answered 413 before any
  of the body is read; a body without one (chunked) is counted as it arrives and answered
  413 once it passes the limit. (FastAPI's own ``max_body_size`` does the same but answers
  in plain text from outside the exception handlers, so errors would lose their shape.)
- **Body read time** and **requests at once**: a request whose body has not fully
  arrived ``body_timeout_s`` after it started gets 408; beyond ``max_concurrent`` requests
  in flight, a new one gets 503 at once with ``Retry-After``, without its body being read.
  Stalled uploads therefore hold a slot for at most ``body_timeout_s``, and at most
  ``max_concurrent`` bodies (each at most ``max_body_bytes``) are held in memory.
  Starlette and FastAPI have neither limit; :class:`RequestLimits` is a plain ASGI
  middleware that enforces these three.
- **Duplicate keys**: :class:`StrictJsonRoute` parses the body with a hook that refuses a
  key given twice in one object (``json.loads`` keeps the last one silently), as 422.

Every refusal says ``Connection: close`` so the server drops an upload it will not read.
Only the standard library is used here: the serving image carries nothing else.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_BODY_TIMEOUT_S = 10.0
DEFAULT_MAX_CONCURRENT = 32
CLOSE = {"Connection": "close"}


@dataclass(frozen=True)
class ServiceLimits:
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    max_concurrent: int = DEFAULT_MAX_CONCURRENT

    @classmethod
    def from_settings(cls, serving: Mapping[str, Any], **given: Any) -> ServiceLimits:
        """The bundle's ``serving`` settings (model.json), overridden by what is given."""
        chosen = {
            name: given.get(name) if given.get(name) is not None else serving.get(name)
            for name in ("max_body_bytes", "body_timeout_s", "max_concurrent")
        }
        limits = cls(**{k: v for k, v in chosen.items() if v is not None})
        if limits.max_body_bytes < 1 or limits.body_timeout_s <= 0 or limits.max_concurrent < 1:
            raise ValueError(f"service limits must be positive: {limits}")
        return limits


def refusal(status: int, message: str, kind: str, headers: Mapping[str, str] = CLOSE) -> Response:
    """The service's error shape (message + detail), for refusals before validation."""
    body = {"message": message, "detail": [{"loc": ["body"], "field": None, "msg": message,
                                            "type": kind}]}  # fmt: skip
    return Response(
        json.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def too_large(limit: int) -> str:
    return f"the request body is larger than {limit} bytes (max_body_bytes): send fewer rows"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large(limit))


class BodyTimeout(HTTPException):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            408, f"the request body did not arrive within {seconds:g} s (body_timeout_s)"
        )


class RequestLimits:
    """Requests in flight at most ``max_concurrent``; each body read within ``body_timeout_s``."""

    def __init__(
        self, app: ASGIApp, *, max_concurrent: int, body_timeout_s: float, max_body_bytes: int
    ) -> None:
        self.app = app
        self.max_concurrent = max_concurrent
        self.body_timeout_s = body_timeout_s
        self.max_body_bytes = max_body_bytes
        self.in_flight = 0  # touched only on the event loop's thread

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            response = refusal(413, too_large(self.max_body_bytes), "body_too_large")
            await response(scope, receive, send)
            return
        if self.in_flight >= self.max_concurrent:
            response = refusal(
                503,
                f"the service is answering {self.max_concurrent} requests (max_concurrent); "
                "retry shortly",
                "too_many_requests",
                {**CLOSE, "Retry-After": "1"},
            )
            await response(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, self._timed(receive), send)
        finally:
            self.in_flight -= 1

    def _timed(self, receive: Receive) -> Callable[[], Coroutine[Any, Any, Message]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout_s
        done, received = False, 0

        async def timed_receive() -> Message:
            nonlocal done, received
            if done:  # the body is in: later reads only wait for a disconnect
                return await receive()
            remaining = deadline - loop.time()
            try:
                message = await asyncio.wait_for(receive(), max(remaining, 0.0))
            except TimeoutError:
                raise BodyTimeout(self.body_timeout_s) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            if message["type"] != "http.request" or not message.get("more_body", False):
                done = True
            return message

        return timed_receive


class DuplicateKey(Exception):
    """A JSON object gives a key twice."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return mapping


_UNPARSED = object()


class StrictJsonRequest(Request):
    """A request whose JSON body is parsed once, refusing keys given twice."""

    parsed: Any = _UNPARSED

    async def json(self) -> Any:
        if self.parsed is _UNPARSED:
            self.parsed = json.loads(await self.body(), object_pairs_hook=_no_duplicates)
        return self.parsed


class StrictJsonRoute(APIRoute):
    """Routes whose JSON body may not give a key twice (422 naming the key).

    The body is parsed here, once, before FastAPI's handler, which reuses the result: a
    duplicate raised inside FastAPI's own parsing would become a generic 400.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            checked = StrictJsonRequest(request.scope, request.receive)
            if request.method == "POST":
                try:
                    await checked.json()
                except DuplicateKey as exc:
                    return refusal(
                        422,
                        f"{str(exc)!r} is given twice in one JSON object: give each key once",
                        "duplicate_key",
                        {},
                    )
                except ValueError:
                    pass  # not JSON: FastAPI's handler reports it as it always does
            return await handler(checked)

        return strict
