"""What the service accepts is bounded, and it stays up and correct while it is abused.

In process: HEAD wherever GET is served, a key given twice refused, oversized bodies 413
(declared and chunked), a stalled body 408 and a full house 503 (driven through the ASGI
app with a receive that stalls). Over loopback, against the real server (uvicorn): stalled
and oversized uploads in flight while ordinary requests keep getting correct answers.
Every loop here is bounded in count and time and stops by itself.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tabpipe.serving import app as service
from tabpipe.serving.limits import RequestLimits, ServiceLimits
from tabpipe.serving.runtime import ServingModel
from tests.support.asgi import drive

JSON = {"content-type": "application/json"}
SMALL = ServiceLimits(max_body_bytes=20_000, body_timeout_s=1.0, max_concurrent=4)


@pytest.fixture(scope="module")
def client(bundle_dir: Path) -> TestClient:
    return TestClient(service.create_app(bundle_dir, limits=SMALL))


def test_every_get_also_answers_head_without_a_body(client):
    paths = [
        route.path
        for route in client.app.routes
        if "GET" in getattr(route, "methods", ()) and "{" not in route.path
    ]
    assert {"/health", "/ready", "/metadata", "/docs", "/openapi.json"} <= set(paths)
    for path in paths:
        head = client.head(path)
        assert head.status_code == 200, path
        assert head.content == b"", path
    schema = client.get("/openapi.json").json()
    assert all("head" not in ops for ops in schema["paths"].values()), "HEAD stays out of docs"


def test_a_key_given_twice_is_refused_even_when_the_first_value_is_invalid(client, test_rows):
    row = test_rows[0]
    name = next(iter(row))
    body = json.dumps(row)
    twice = '{"' + name + '": "not a value", ' + body[1:]  # the valid value comes last
    answer = client.post("/predict", content=twice, headers=JSON)
    assert answer.status_code == 422
    assert f"'{name}' is given twice" in answer.json()["message"]
    nested = json.dumps({"rows": [row, row]})
    inner = nested.replace(body, '{"' + name + '": 0, ' + body[1:], 1)
    assert client.post("/predict/batch", content=inner, headers=JSON).status_code == 422
    assert client.post("/predict", content=body, headers=JSON).status_code == 200


def test_a_declared_oversized_body_is_refused_before_it_is_read(client, test_rows):
    big = json.dumps({"rows": test_rows * 200}).encode()
    assert len(big) > SMALL.max_body_bytes
    answer = client.post("/predict/batch", content=big, headers=JSON)
    assert answer.status_code == 413
    assert "max_body_bytes" in answer.json()["message"]
    assert answer.headers["connection"] == "close"


def test_a_chunked_body_is_counted_as_it_arrives(client, test_rows):
    chunk = json.dumps(test_rows).encode()

    def chunks():  # no Content-Length: httpx sends it chunked
        yield b'{"rows": '
        for _ in range(100):
            yield chunk[:-1] + b","
        yield chunk[1:] + b"}"

    answer = client.post("/predict/batch", content=chunks(), headers=JSON)
    assert answer.status_code == 413


def test_a_stalled_body_gets_408_and_a_full_house_gets_503(bundle_dir):
    app = service.create_app(bundle_dir, limits=SMALL)
    started = time.monotonic()
    statuses = [status for status, _ in drive(app, 5.0, SMALL.max_concurrent + 3)]
    assert time.monotonic() - started < 4.0, "stalled bodies are cut off at body_timeout_s"
    assert sorted(statuses) == [408] * SMALL.max_concurrent + [503] * 3
    quick = drive(app, 0.0, SMALL.max_concurrent)
    assert {status for status, _ in quick} == {422}, "once the stalls are gone, slots are free"


def test_the_limits_come_from_params_through_the_bundle(bundle_dir, params):
    served = ServingModel(bundle_dir).metadata["serving"]
    assert served["max_body_bytes"] == params.release.max_body_bytes
    assert served["body_timeout_s"] == params.release.body_timeout_s
    assert served["max_concurrent"] == params.release.max_concurrent
    limits = ServiceLimits.from_settings(served, max_concurrent=3)
    assert (limits.max_concurrent, limits.max_body_bytes) == (3, params.release.max_body_bytes)
    with pytest.raises(ValueError, match="positive"):
        ServiceLimits.from_settings(served, body_timeout_s=-1)
    assert isinstance(RequestLimits, type)


# --- over loopback, against the real server -----------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _request(port: int, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        conn.sendall(head.encode() + body)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def _stall(port: int, declared: int, sent: bytes) -> socket.socket:
    """An upload that declares ``declared`` bytes, sends ``sent`` and then says nothing."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(
        (
            f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {declared}\r\n\r\n"
        ).encode()
        + sent
    )
    return conn


def _answer_of(conn: socket.socket, wait: float) -> int | None:
    """The status the server sent on ``conn`` and whether it closed it, within ``wait`` s."""
    conn.settimeout(wait)
    data = b""
    try:
        while chunk := conn.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    finally:
        conn.close()
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else None


def test_the_server_stays_up_and_correct_under_stalled_and_oversized_uploads(bundle_dir, test_rows):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tabpipe.serving.app", "--model-dir", str(bundle_dir),
         "--port", str(port), "--max-body-bytes", "65536", "--body-timeout", "2",
         "--max-concurrent", "8"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _request(port, "GET", "/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the service did not start")
        model = ServingModel(bundle_dir)
        rows = test_rows[:10]
        expected = [p.to_dict() for p in model.predict_rows(rows)]

        stalled = [_stall(port, 10_000, b'{"rows": [') for _ in range(40)]
        oversized = [_stall(port, 100_000_000, b"x" * 65_536) for _ in range(5)]
        started = time.monotonic()
        answers: list[int] = []
        for _ in range(40):  # ordinary traffic while the abuse is in flight (bounded)
            status, body = _request(
                port, "POST", "/predict/batch", json.dumps({"rows": rows}).encode()
            )
            answers.append(status)
            if status == 200:
                assert json.loads(body)["predictions"] == expected, "never a wrong answer"
            if time.monotonic() - started > 20:
                break
            time.sleep(0.1)
        assert set(answers) <= {200, 503}, answers
        assert answers[-1] == 200, "served again once the stalled uploads timed out"

        assert all(_answer_of(c, 5) == 413 for c in oversized), "refused before reading 100 MB"
        stalled_answers = [_answer_of(c, 5) for c in stalled]
        assert set(stalled_answers) <= {408, 503}, stalled_answers
        assert 408 in stalled_answers and 503 in stalled_answers
        assert server.poll() is None, "the service is still up"
        assert _request(port, "HEAD", "/health")[0] == 200
    finally:
        server.terminate()
        try:
            output = server.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            server.kill()
            output = server.communicate()[0]
    assert "Traceback" not in output, output
