"""A hostile server for the binding tests: an HTTP proxy on 127.0.0.1 in front of a real sandbox that forwards every
request and may replace any JSON answer with another (another patient's documents, Patient or referrals).

It stands where a compromised coordination server or a man in the middle would: the kiosk talks to it as to its
server, with its credentials, and gets the real server's answers except those `rewrite` swaps. The Host header is
passed on, so the sandbox names the proxy in every URL it writes (metadata, paging links), as one server would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import orjson

Json = dict[str, Any]
Rewrite = Callable[[str, dict[str, str], Json], Json | None]
"""(path under the FHIR base such as `Patient/p1/$summary`, query parameters, the real answer) -> the answer to send
instead, or None to send the real one."""
_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"})


class SwappingProxy:
    """Forwards to `upstream` (the sandbox's FHIR base URL); `rewrite` may swap JSON answers. `swapped` counts the
    answers it replaced."""

    def __init__(self, upstream: str, rewrite: Rewrite) -> None:
        parts = urlsplit(upstream)
        self.base_path = parts.path.rstrip("/")
        self.rewrite = rewrite
        self.swapped = 0
        self._client = httpx.Client(base_url=f"{parts.scheme}://{parts.netloc}", timeout=30)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="swap-proxy", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.base_path}"

    def _answer(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, Any, bytes]:
        answer = self._client.request(method, target, headers=headers, content=body)
        content = answer.content
        if answer.headers.get("content-type", "").split(";")[0].endswith("json") and content:
            split = urlsplit(target)
            path = split.path.removeprefix(self.base_path).lstrip("/")
            replaced = self.rewrite(path, dict(parse_qsl(split.query)), orjson.loads(content))
            if replaced is not None:
                # A swapped answer is a success whatever the real one was: the hostile server answers, it does not
                # refuse.
                self.swapped += 1
                kept = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in _HOP]
                return 200, kept, orjson.dumps(replaced)
        kept = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in _HOP]
        return answer.status_code, kept, content

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            """One connection to the proxy."""

            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                sent = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP]
                status, headers, content = proxy._answer(self.command, self.path, sent, body)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = _relay

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def start(self) -> SwappingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._client.close()


@contextmanager
def swapping(upstream: str, rewrite: Rewrite) -> Iterator[SwappingProxy]:
    """A running proxy in front of `upstream`, stopped at the end."""
    proxy = SwappingProxy(upstream, rewrite).start()
    try:
        yield proxy
    finally:
        proxy.stop()
