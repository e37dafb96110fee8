"""Driving the service's ASGI app directly, with a client that is as slow as a test needs.

A test client sends its body at once; a stalled upload (headers sent, body never finished)
can only be played by calling the app with a ``receive`` that waits.
"""

from __future__ import annotations

import asyncio
from typing import Any

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/predict",
    "raw_path": b"/predict",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"content-type", b"application/json")],
    "client": ("127.0.0.1", 1),
    "server": ("127.0.0.1", 2),
}


def drive(app: Any, body_delay: float, requests: int) -> list[tuple[int, bytes]]:
    """``requests`` POSTs at once, each body arriving after ``body_delay`` s: (status, body)."""

    async def one() -> tuple[int, bytes]:
        status, body, sent = 0, b"", False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(30)
                return {"type": "http.disconnect"}
            await asyncio.sleep(body_delay)
            sent = True
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, body
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                body += message.get("body", b"")

        await asyncio.wait_for(app(dict(SCOPE), receive, send), timeout=20)
        return status, body

    async def many() -> list[tuple[int, bytes]]:
        return list(await asyncio.gather(*(one() for _ in range(requests))))

    return asyncio.run(many())
