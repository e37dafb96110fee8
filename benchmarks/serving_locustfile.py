"""Locust users for the serving benchmark (run by benchmarks/serving.py, not by hand).

Each user posts, back to back with keep-alive, either one test row to ``/predict`` or a
batch of rows to ``/predict/batch``; the rows come from the JSON file in
``$TABPIPE_BENCH_ROWS`` and the mode from ``$TABPIPE_BENCH_MODE`` (single | batch).
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

from locust import FastHttpUser, task

ROWS = json.loads(Path(os.environ["TABPIPE_BENCH_ROWS"]).read_text())
MODE = os.environ.get("TABPIPE_BENCH_MODE", "single")
BATCH = int(os.environ.get("TABPIPE_BENCH_BATCH", "100"))
SINGLE_BODIES = [json.dumps(row).encode() for row in ROWS]
BATCH_BODY = json.dumps({"rows": (ROWS * (BATCH // len(ROWS) + 1))[:BATCH]}).encode()
HEADERS = {"Content-Type": "application/json"}


class Client(FastHttpUser):
    def on_start(self) -> None:
        self.bodies = itertools.cycle(SINGLE_BODIES)

    @task
    def predict(self) -> None:
        if MODE == "batch":
            path, body = "/predict/batch", BATCH_BODY
        else:
            path, body = "/predict", next(self.bodies)
        with self.client.post(path, data=body, headers=HEADERS, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
