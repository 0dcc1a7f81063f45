"""Hostile HTTP servers for the client-side security tests: a real stdlib server on a real socket that records every
connection, request, header and body it receives, and answers whatever the test scripts (a redirect elsewhere, a body
dripped a byte at a time, fifty megabytes, a metadata naming someone else's token endpoint).

Connections are counted when accepted, before any byte is read, so a test can show that the kiosk refused to even
connect; the bytes of a streamed answer are counted as the socket takes them, so a test can show the kiosk stopped
reading early.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass(frozen=True)
class Seen:
    """One request as it arrived."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    """What to answer: a status, headers, and a body given whole or as chunks (then sent until the connection closes,
    with no Content-Length unless the headers say one)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""

    @classmethod
    def json(cls, status: int, payload: Any, **headers: str) -> Reply:
        return cls(status, {"Content-Type": "application/json", **headers}, orjson.dumps(payload))


Answer = Callable[[Seen], Reply]


class Hostile:
    """A running server and what it has seen."""

    def __init__(self, answer: Answer, host: str) -> None:
        self.answer = answer
        self.seen: list[Seen] = []
        self.connections = 0
        self.bytes_sent = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._answering = 0
        self._server = _Server((host, 0), _handler_for(self))
        self._server.owner = self
        port = self._server.server_address[1]
        self.origin = f"http://{host}:{port}"

    def url(self, path: str = "") -> str:
        return self.origin + path

    def count_connection(self) -> None:
        with self._lock:
            self.connections += 1

    def count_sent(self, n: int) -> None:
        with self._lock:
            self.bytes_sent += n

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        with self._lock:
            self._answering += 1
        try:
            yield
        finally:
            with self._lock:
                self._answering -= 1
                self._idle.notify_all()

    def wait_idle(self, within: float = 10.0) -> None:
        """Block until every answer under way has been sent or abandoned (the kiosk hung up)."""
        with self._lock:
            if not self._idle.wait_for(lambda: self._answering == 0, timeout=within):
                raise AssertionError(f"the server was still answering after {within} s")

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def serve(self) -> threading.Thread:
        thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: Hostile

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.owner.count_connection()
        return True


def _handler_for(owner: Hostile) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _any(self) -> None:
            with owner.answering():
                self._answer()

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            owner.record(seen)
            reply = owner.answer(seen)
            self.send_response(reply.status)
            whole = isinstance(reply.body, bytes)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if whole and "Content-Length" not in reply.headers:
                self.send_header("Content-Length", str(len(reply.body)))  # type: ignore[arg-type]
            self.end_headers()
            chunks = [reply.body] if isinstance(reply.body, bytes) else reply.body
            try:
                for chunk in chunks:
                    if owner.stopping.is_set():
                        return
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    owner.count_sent(len(chunk))
            except (BrokenPipeError, ConnectionResetError):
                return  # the kiosk hung up: what it did not take is not counted

        do_GET = do_POST = do_PUT = _any

    return Handler


@contextlib.contextmanager
def hostile(answer: Answer, host: str = "127.0.0.1") -> Iterator[Hostile]:
    """A hostile server on `host` (a free port), recording everything, for the length of the block."""
    server = Hostile(answer, host)
    server.serve()
    try:
        yield server
    finally:
        server.close()


def address_off_loopback() -> str | None:
    """An address of this machine that is not loopback (the one it would use to reach the world), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: connecting a UDP socket only picks the route
            address: str = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address
