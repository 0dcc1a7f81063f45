"""A misbehaving HTTP/1.1 proxy on 127.0.0.1 in front of the real sandbox: it forwards each request and, for the
requests a `FaultPlan` selects, spoils the answer in one chosen way.

Putting the fault between a correct server and the real client stack tests what a hospital network does to a
kiosk: the server is fine, the path to it is not. The proxy runs its own asyncio loop in a daemon thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus

import httpx

_HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"})


class Fault(StrEnum):
    """How the proxy spoils a selected answer."""

    KILL = "kill"
    """Headers and half the body are sent, then the connection is closed (the server process died mid-answer)."""
    HANG = "hang"
    """The request is read and never answered."""
    SLOW = "slow"
    """The whole answer is sent one byte per second."""
    STATUS = "status"
    """An error status (500, 429, 503) with an OperationOutcome, and `Retry-After` when given."""
    TRUNCATE = "truncate"
    """A complete HTTP answer whose JSON body stops halfway."""
    INVALID = "invalid"
    """A complete HTTP 200 answer whose body is not JSON at all."""
    LOST = "lost"
    """The request reaches the server, which acts on it; its answer is dropped and the connection closed without a
    byte of it (an acknowledgement lost on the way back)."""


@dataclass
class FaultPlan:
    """Which requests are spoiled and how; `times` counts down to 0 when set (None: every selected request)."""

    fault: Fault
    path_contains: str = ""
    status: int = 500
    retry_after: str | None = None
    times: int | None = None

    def selects(self, target: str) -> bool:
        if self.path_contains not in target:
            return False
        if self.times is None:
            return True
        if self.times <= 0:
            return False
        self.times -= 1
        return True


class FaultProxy:
    """Forward everything to `upstream`; spoil what `plan` selects. `hits` counts the spoiled requests."""

    def __init__(self, upstream: str, *, tls: ssl.SSLContext | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.tls = tls
        self.plan: FaultPlan | None = None
        self.hits = 0
        self._loop = asyncio.new_event_loop()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._writers: set[asyncio.StreamWriter] = set()
        self._release = asyncio.Event()
        self._server: asyncio.AbstractServer | None = None
        self._client: httpx.AsyncClient | None = None

    def base_url(self, path: str) -> str:
        """The proxy's URL for an upstream path such as `/fhir`."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def start(self) -> FaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        self._client = httpx.AsyncClient(base_url=self.upstream, timeout=30)
        self._server = await asyncio.start_server(self._serve, sock=self._sock, ssl=self.tls)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._client is not None:
            await self._client.aclose()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:] if ":" in line]
                length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
                body = await reader.readexactly(length) if length else b""
                plan = self.plan
                if plan is not None and plan.selects(target):
                    self.hits += 1
                    if not await self._spoil(plan, method, target, headers, body, writer):
                        return
                    continue
                status, out_headers, content = await self._forward(method, target, headers, body)
                writer.write(_response(status, out_headers, content))
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _forward(
        self, method: str, target: str, headers: list[tuple[str, ...]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        assert self._client is not None
        # The Host header is kept, as a reverse proxy keeps it: the server then names the proxy's origin in its token
        # endpoint and paging links, which is the only origin the kiosk sends its credentials to.
        sent = [(k, v) for k, v in headers if k.lower() not in _HOP_HEADERS]
        answer = await self._client.request(method, target, headers=sent, content=body)
        kept = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in _HOP_HEADERS]
        return answer.status_code, kept, answer.content

    async def _spoil(
        self,
        plan: FaultPlan,
        method: str,
        target: str,
        headers: list[tuple[str, ...]],
        body: bytes,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Answer one selected request badly; whether the connection may go on being used."""
        fault = plan.fault
        if fault is Fault.HANG:
            await self._release.wait()
            return False
        if fault is Fault.STATUS:
            extra = [("Retry-After", plan.retry_after)] if plan.retry_after is not None else []
            outcome = (
                b'{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient",'
                b'"diagnostics":"injected fault"}]}'
            )
            writer.write(_response(plan.status, [("Content-Type", "application/fhir+json"), *extra], outcome))
            await writer.drain()
            return True
        if fault is Fault.INVALID:
            page = b"<html><body>502 Bad Gateway</body></html>"
            writer.write(_response(200, [("Content-Type", "application/fhir+json")], page))
            await writer.drain()
            return True
        status, out_headers, content = await self._forward(method, target, headers, body)
        if fault is Fault.LOST:
            writer.close()
            return False
        if fault is Fault.TRUNCATE:
            writer.write(_response(status, out_headers, content[: len(content) // 2]))
            await writer.drain()
            return True
        whole = _response(status, out_headers, content)
        if fault is Fault.KILL:
            writer.write(whole[: len(whole) - len(content) // 2])
            await writer.drain()
            # The kernel closes a dead process's sockets: the client sees the end of the stream mid-body.
            writer.close()
            return False
        for position in range(len(whole)):  # Fault.SLOW
            if self._release.is_set():
                return False
            writer.write(whole[position : position + 1])
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), 1.0)
        return True


def _response(status: int, headers: list[tuple[str, str]], content: bytes) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Status"
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers), f"Content-Length: {len(content)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + content


@contextlib.contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    with FaultProxy(upstream) as proxy:
        yield proxy
