"""A real HTTP server for the FHIR workloads, and the load generator that drives it.

`Server` runs gunicorn as a subprocess on a free loopback port: PHB's own WSGI application
(`phb.config.wsgi`), or the bare reference application (`bench.workloads.bare_wsgi`), both with the same
configuration, sized for the project's 2-core machine (2 gthread workers x 4 threads, keep-alive). The
server reads the bench database through the environment the bench runs in.

`Clients` is the load generator: N threads, each holding one keep-alive connection per server, sending
pre-built HTTP/1.1 requests over a plain socket and reading each response whole (Content-Length). It
records every request's latency. The same generator, on the same machine, drives both sides, so what
it costs weighs on both alike.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.runner import CheckFailed

ROOT = Path(__file__).resolve().parents[2]
WORKERS = int(os.environ.get("BENCH_HTTP_WORKERS", "2"))  # one per core
THREADS = int(os.environ.get("BENCH_HTTP_THREADS", "4"))
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn serving `app` ("module:callable") on 127.0.0.1; `stop()` ends it and its workers."""

    def __init__(self, app: str, env: dict[str, str], ready_path: str) -> None:
        self.app = app
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--worker-class",
            "gthread",
            "--workers",
            str(WORKERS),
            "--threads",
            str(THREADS),
            "--keep-alive",
            "60",
            "--timeout",
            "120",
            "--log-level",
            "warning",
            "--chdir",
            str(ROOT),
        ]
        self.log = open(os.devnull, "wb")  # noqa: SIM115 (closed in stop)
        # Its own process group: stopping it stops the workers it forked, and nothing else.
        self.process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.PIPE, start_new_session=True
        )
        # Its own session does not get the bench's Ctrl-C: a run that stops early still stops the server.
        atexit.register(self.stop)
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace")[-2000:] if self.process.stderr else ""
                raise RuntimeError(f"gunicorn ({app}) exited at start: {error}")
            try:
                with urllib.request.urlopen(self.base + ready_path, timeout=5) as response:  # noqa: S310 (loopback)
                    response.read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"gunicorn ({app}) did not answer within {STARTUP_SECONDS} s") from None
                time.sleep(0.2)
        # Its errors are read only when it fails to start; afterwards they go nowhere (no pipe to fill).
        if self.process.stderr:
            self.process.stderr.close()
            self.process.stderr = None

    def post_form(self, path: str, fields: dict[str, str]) -> dict[str, Any]:
        data = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(self.base + path, data=data, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
            return json.loads(response.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


class Connection:
    """One keep-alive HTTP/1.1 connection: send a request, read its response (Content-Length framed)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buffer = sock, b""
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def request(self, raw: bytes) -> tuple[int, bytes]:
        """(status, body). A connection the server closed while idle is opened again once."""
        for attempt in (1, 2):
            sock = self.sock or self._connect()
            try:
                sock.sendall(raw)
                return self._response(sock)
            except (ConnectionError, EOFError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _response(self, sock: socket.socket) -> tuple[int, bytes]:
        buffer = self.buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("the server closed the connection")
            buffer += chunk
        head = buffer[:end].decode("latin-1")
        status = int(head[9:12])
        length = None
        close = False
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        if length is None:
            raise CheckFailed(f"a response without Content-Length (status {status})")
        body_start = end + 4
        while len(buffer) - body_start < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("the server closed the connection mid-response")
            buffer += chunk
        body = buffer[body_start : body_start + length]
        self.buffer = buffer[body_start + length :]
        if close:
            self.close()
        return status, body


def get_request(port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Clients:
    """`n` concurrent clients (threads), each with its own keep-alive connection per port."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.pool = ThreadPoolExecutor(max_workers=n)
        self.latencies_us: list[float] = []
        # Client i of a batch uses connection (port, i): one client, one connection, whichever thread runs it.
        self.connections: dict[tuple[int, int], Connection] = {}

    def _connection(self, port: int, index: int) -> Connection:
        key = (port, index)
        if key not in self.connections:
            self.connections[key] = Connection(port)
        return self.connections[key]

    def batch(self, port: int, requests: Callable[[int], list[bytes]]) -> int:
        """Every client sends its list of requests (`requests(client_index)`) one after the other, all
        clients at once; returns how many answered 200. Any other status fails the batch."""

        def client(index: int) -> tuple[int, list[float], str]:
            connection = self._connection(port, index)
            ok, times = 0, []
            for raw in requests(index):
                start = time.perf_counter_ns()
                status, body = connection.request(raw)
                times.append((time.perf_counter_ns() - start) / 1000)
                if status != 200:
                    return ok, times, f"status {status}: {body[:300].decode(errors='replace')}"
                ok += 1
            return ok, times, ""

        total = 0
        errors = []
        for ok, times, error in self.pool.map(client, range(self.n)):
            total += ok
            self.latencies_us.extend(times)
            if error:
                errors.append(error)
        if errors:
            raise CheckFailed(f"{len(errors)} client(s) got an error: {errors[0]}")
        return total

    def drain(self) -> list[float]:
        out, self.latencies_us = self.latencies_us, []
        return out

    def close(self) -> None:
        self.pool.shutdown()
        for connection in self.connections.values():
            connection.close()


@contextlib.contextmanager
def running(app: str, env: dict[str, str], ready_path: str) -> Iterator[Server]:
    server = Server(app, env, ready_path)
    try:
        yield server
    finally:
        server.stop()
