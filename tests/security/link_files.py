"""A SMART Health Link host on 127.0.0.1 for the binding tests: its manifest embeds the given FHIR documents, each
encrypted (JWE `dir` + `A256GCM`) with the link's key, as a patient's phone or a sharing service would serve them."""

from __future__ import annotations

import base64
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from joserfc import jwe
from joserfc.jwk import OctKey

Json = dict[str, Any]


class LinkFiles:
    """Serves a manifest (POST) embedding `documents`; `url` is the manifest, `key` the link's key."""

    def __init__(self, documents: list[Json]) -> None:
        raw = secrets.token_bytes(32)
        self.key = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        secret = OctKey.import_key(raw)
        header = {"alg": "dir", "enc": "A256GCM", "cty": "application/fhir+json"}
        embedded = [jwe.encrypt_compact(header, json.dumps(d).encode(), secret) for d in documents]
        manifest = json.dumps(
            {"files": [{"contentType": "application/fhir+json", "embedded": e} for e in embedded]}
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            """The manifest, whatever the request says."""

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(manifest)))
                self.end_headers()
                self.wfile.write(manifest)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="link-files", daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/manifest"

    def __enter__(self) -> LinkFiles:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def link_text(files: LinkFiles) -> str:
    """The `shlink:/` text of a link to `files` (no passcode, no expiry)."""
    payload = {"url": files.url, "flag": "", "key": files.key, "label": "binding test"}
    encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return f"shlink:/{encoded}"
