"""Locust users for the serving benchmark (run by benchmarks/serving.py, not by hand).

Each user posts, back to back with keep-alive, either one test row to ``/predict`` or a
batch of rows to ``/predict/batch``; the rows come from the JSON file in
``$TABPIPE_BENCH_ROWS`` and the mode from ``$TABPIPE_BENCH_MODE`` (single | batch). With
``$TABPIPE_BENCH_REQUESTS`` set, the users send that many requests in all and locust stops
when the last one is answered (``--run-time`` is then only a bound), so a short check does
the same work however slow the machine is. Every answered request's latency goes to the JSON
file in ``$TABPIPE_BENCH_STATS`` when locust quits (locust's own CSV is not final when a
user stops the run).
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, events, task
from locust.exception import StopUser

ROWS = json.loads(Path(os.environ["TABPIPE_BENCH_ROWS"]).read_text())
MODE = os.environ.get("TABPIPE_BENCH_MODE", "single")
BATCH = int(os.environ.get("TABPIPE_BENCH_BATCH", "100"))
SINGLE_BODIES = [json.dumps(row).encode() for row in ROWS]
BATCH_BODY = json.dumps({"rows": (ROWS * (BATCH // len(ROWS) + 1))[:BATCH]}).encode()
HEADERS = {"Content-Type": "application/json"}
LIMIT = int(os.environ.get("TABPIPE_BENCH_REQUESTS", "0"))  # 0: as many as the run-time allows
STATS = os.environ.get("TABPIPE_BENCH_STATS")
sent = answered = 0  # over every user of this locust process (greenlets, one thread)
latencies_ms: list[float] = []
failures = 0
window: list[float] = []  # first request's start, last answer's end (epoch seconds)


@events.request.add_listener
def _record(response_time: float, exception: Any, start_time: float, **_: Any) -> None:
    global failures
    latencies_ms.append(response_time)
    failures += exception is not None
    end = start_time + response_time / 1000
    window[:] = [min(window[0], start_time), max(window[1], end)] if window else [start_time, end]


@events.quitting.add_listener
def _dump(**_: Any) -> None:
    if STATS:
        seconds = window[1] - window[0] if window else 0.0
        stats = {"latencies_ms": latencies_ms, "failures": failures, "seconds": seconds}
        Path(STATS).write_text(json.dumps(stats), encoding="utf-8")


class Client(FastHttpUser):
    def on_start(self) -> None:
        self.bodies = itertools.cycle(SINGLE_BODIES)

    @task
    def predict(self) -> None:
        global sent, answered
        if LIMIT and sent >= LIMIT:
            raise StopUser()  # the others' requests in flight finish the count
        sent += 1
        if MODE == "batch":
            path, body = "/predict/batch", BATCH_BODY
        else:
            path, body = "/predict", next(self.bodies)
        with self.client.post(path, data=body, headers=HEADERS, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
        answered += 1
        if LIMIT and answered == LIMIT:
            # In a greenlet of its own: quit() stops every user, this one too, and a
            # user's greenlet that calls it is killed inside it before the runner itself
            # is, so locust went on until --run-time (2 minutes in the tests) had passed.
            gevent.spawn(self.environment.runner.quit)  # type: ignore[union-attr]
