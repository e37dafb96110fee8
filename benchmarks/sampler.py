"""A sampling profiler for the service process: where its busy threads spend their time.

Every ``interval`` seconds a thread reads the stack of every other thread of the process
(``sys._current_frames``), skips the threads that are waiting (the event loop polling,
the thread pool's idle workers), and counts the busy ones by the component of
their innermost recognised frame: onnxruntime's ``session.run``, the model runtime, pydantic
(request and response models), JSON, FastAPI/Starlette/anyio (routing, the hops to the
worker threads), the HTTP server. A sample of native code (onnxruntime's kernels,
pydantic-core) is attributed to the Python frame that called it; uvloop's native event loop
(polling, and httptools' C parser) has no Python frame of its own and counts as waiting.

Hand-written rather than a library: the service runs its endpoints and the response
validation on anyio's worker threads, which cProfile (per thread, Python 3.11) does not
see; py-spy sees them but is not in the locked environment and needs ptrace rights.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import FrameType

# (component, path fragments of its frames), matched innermost frame first, in this order.
COMPONENTS = (
    ("onnxruntime `session.run`", ("/onnxruntime/",)),
    ("model runtime (`tabpipe.serving.runtime`: inputs, answers)", ("tabpipe/serving/runtime",)),
    ("scikit-learn", ("/sklearn/", "/scipy/")),
    ("request and response models (pydantic)", ("/pydantic/", "/pydantic_core/", "/_compat/")),
    ("JSON", ("/json/",)),
    ("the endpoints (`tabpipe.serving.app`)", ("tabpipe/serving/app",)),
    ("FastAPI, Starlette, anyio (routing, thread hops)", ("/fastapi/", "/starlette/", "/anyio/")),
    ("HTTP protocol (uvicorn, h11)", ("/uvicorn/", "/h11/", "/httptools/")),
    ("asyncio event loop", ("/asyncio/", "/selectors.py")),
)
OTHER = "other"
# Innermost frames of a thread that is waiting, not working. uvloop's event loop is native:
# while it polls (or parses HTTP in C) the innermost Python frame is the one that started it.
IDLE = {
    ("selectors", "select"),
    ("threading", "wait"),
    ("threading", "_wait"),
    ("queue", "get"),
    ("runners", "run"),
    ("base_events", "run_until_complete"),
    ("base_events", "run_forever"),
}


def component(frame: FrameType | None) -> str | None:
    """The component a stack is working in, or None if the thread is waiting."""
    if frame is None:
        return None
    code = frame.f_code
    if (Path(code.co_filename).stem, code.co_name) in IDLE:
        return None
    while frame is not None:
        path = frame.f_code.co_filename
        for name, fragments in COMPONENTS:
            if any(fragment in path for fragment in fragments):
                return name
        frame = frame.f_back
    return OTHER


class Sampler:
    """Counts busy samples per component until :meth:`stop`; :meth:`dump` writes them."""

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.counts: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        me = threading.get_ident()
        while not self._stop.is_set():
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                found = component(frame)
                if found is not None:
                    self.counts[found] += 1
            self.samples += 1
            time.sleep(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def dump(self, path: Path) -> None:
        path.write_text(
            json.dumps({"ticks": self.samples, "busy": dict(self.counts)}), encoding="utf-8"
        )
