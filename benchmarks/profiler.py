"""A profiler for the service process: where its Python threads spend their busy time.

The service parses HTTP on its event-loop thread and runs the endpoints and the response
validation on anyio's worker threads; cProfile profiles one thread (Python 3.11). So
:class:`ThreadProfiler` gives each thread a ``cProfile.Profile`` of its own: the thread that
starts it, and every thread started later (``threading.setprofile``). The functions' own
times are summed by component (:data:`COMPONENTS`, matched on the function's file, or on
the name of a native function); a native function no component names (a builtin) counts
for the Python function that called it. The time threads spend waiting (:data:`WAITING`:
the event loop's poll, a worker's wait for work, sleeps) is set apart, not counted as work.

cProfile's own clock (wall time) rather than each thread's CPU clock: reading a thread's
CPU clock is a system call here, and with it the profiled requests ran 10x slower against
about 3x. Deterministic profiling still slows Python calls more than native code: the
section shows the profiled requests' latency beside the unprofiled one, and the shares are
to be read as such.

Not a sampler: an in-process sampler reads the other threads' stacks only while it holds
the GIL, and busy threads hand the GIL over mostly at system calls, so it charged the
socket writes and the event loop's wake-ups for the Python work done before them (on
one-row requests 268 samples in ``sock.send``, more than ~2,000 small writes can take at
1 ms a sample, and almost none in routing or validation). py-spy would see native frames
but is not in the locked environment and needs ptrace rights.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import resource
import sys
import threading
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

# (component, fragments of "file:function"), first match wins. A native function's file is
# "~" and its name says whose it is, e.g. "<method 'run' of 'onnxruntime...' objects>".
COMPONENTS = (
    ("onnxruntime `session.run`", ("/onnxruntime/", "onnxruntime")),
    ("model runtime (`tabpipe.serving.runtime`: inputs, answers)", ("tabpipe/serving/runtime",)),
    ("scikit-learn", ("/sklearn/", "/scipy/")),
    ("request and response models (pydantic)", ("/pydantic/", "pydantic_core", "/_compat/")),
    ("JSON", ("/json/", "_json")),
    ("the endpoints (`tabpipe.serving.app`)", ("tabpipe/serving/app",)),
    ("FastAPI, Starlette, anyio (routing, thread hops)", ("/fastapi/", "/starlette/", "/anyio/")),
    ("HTTP protocol (uvicorn, h11)", ("/uvicorn/", "/h11/", "/httptools/")),
    ("sockets (send, receive)", ("_socket.socket", "'socket' objects")),
    ("asyncio event loop", ("/asyncio/", "selectors.py", "select.epoll")),
    ("threads and locks (`threading`, `queue`)", ("threading.py", "queue.py", "_thread.")),
)
OTHER = "other"
# Native functions a thread waits in (matched before COMPONENTS): not work.
WAITING = (
    "'poll' of 'select.epoll'",
    "'select' of 'select.",
    "'acquire' of '_thread.",
    "time.sleep",
)
WAITING_KEY = "(waiting)"
Key = tuple[str, int, str]  # pstats' (file, line, function)


def component_of(key: Key) -> str | None:
    where = f"{key[0]}:{key[2]}"
    if key[0] == "~" and any(fragment in where for fragment in WAITING):
        return WAITING_KEY
    for name, fragments in COMPONENTS:
        if any(fragment in where for fragment in fragments):
            return name
    return None


def by_component(stats: dict[Key, Any]) -> dict[str, float]:
    """Own seconds per component (and WAITING_KEY); unnamed builtins count for their callers."""
    totals: Counter[str] = Counter()
    for key, (_, _, own, _, callers) in stats.items():
        found = component_of(key)
        if found is None and key[0] == "~" and callers:
            for caller, (_, _, seconds, _) in callers.items():
                totals[component_of(caller) or OTHER] += seconds
            continue
        totals[found or OTHER] += own
    return dict(totals)


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class ThreadProfiler:
    """cProfile on every Python thread until :meth:`stop`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._profiles: list[cProfile.Profile] = []
        self._main: cProfile.Profile | None = None
        self._cpu_at_start = 0.0
        self.stats: dict[Key, Any] = {}
        self.process_cpu_seconds = 0.0

    def _new(self) -> cProfile.Profile:
        profile = cProfile.Profile()
        with self._lock:
            self._profiles.append(profile)
        return profile

    def _start_in_new_thread(self, frame: FrameType, event: str, arg: object) -> None:
        # threading.setprofile's hook runs once, at the new thread's first call: hand the
        # thread over to a profile of its own.
        sys.setprofile(None)
        self._new().enable()

    def start(self) -> ThreadProfiler:
        self._cpu_at_start = _process_cpu()
        threading.setprofile(self._start_in_new_thread)
        self._main = self._new()
        self._main.enable()
        return self

    def stop(self) -> None:
        """Stop profiling (from the thread that started it) and merge every thread's stats."""
        threading.setprofile(None)  # type: ignore[arg-type]
        if self._main is not None:
            self._main.disable()
        self.process_cpu_seconds = _process_cpu() - self._cpu_at_start
        merged: pstats.Stats | None = None
        with self._lock:
            profiles = list(self._profiles)
        for profile in profiles:
            # Another thread's profile: disable() here only clears this thread's hook, which
            # is off already; its stats are read as they stand.
            if merged is None:
                merged = pstats.Stats(profile)
            else:
                merged.add(profile)
        self.stats = dict(merged.stats) if merged is not None else {}  # type: ignore[attr-defined]

    def dump(self, path: Path) -> None:
        totals = by_component(self.stats)
        waiting = totals.pop(WAITING_KEY, 0.0)
        path.write_text(
            json.dumps(
                {
                    "busy_seconds": totals,
                    "waiting_seconds": waiting,
                    "process_cpu_seconds": self.process_cpu_seconds,
                    "threads": len(self._profiles),
                }
            ),
            encoding="utf-8",
        )
