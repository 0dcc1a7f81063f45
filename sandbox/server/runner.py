"""Run a sandbox server in a background thread on a free loopback port: for tests, benchmarks and the demo.

    with start_sandbox(SandboxConfig(db_path=tmp / "s.sqlite", population=500, demo_clients=True)) as sandbox:
        sandbox.base_url         # http://127.0.0.1:PORT/fhir
        sandbox.trust_list_path  # the facilities' JWKS, public keys only

The listening socket is bound before uvicorn starts, so there is no window in which another process takes the port.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from sandbox.server.app import create_app
from sandbox.server.config import SandboxConfig
from sandbox.server.state import SandboxState
from sandbox.synthetic.facilities import jwks


class SandboxStartError(RuntimeError):
    """The server did not come up in time."""


def write_trust_list(path: Path, seed: int) -> Path:
    """Write the facilities' JWKS (public keys only) to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(jwks(seed), ensure_ascii=False, indent=2), encoding="utf-8")
    return path


class RunningSandbox:
    """A started server: its base URL, its trust list file, and how to stop it."""

    def __init__(
        self, server: uvicorn.Server, thread: threading.Thread, state: SandboxState, port: int, trust: Path
    ) -> None:
        self._server = server
        self._thread = thread
        self.state = state
        self.port = port
        self.trust_list_path = trust
        self.base_url = f"http://127.0.0.1:{port}{state.config.base_path}"

    @property
    def config(self) -> SandboxConfig:
        return self.state.config

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        if self.state.matching is not None:
            self.state.matching.close()
        self.state.store.close()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def start_sandbox(
    config: SandboxConfig, *, trust_list_path: Path | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningSandbox:
    """Prepare the database, start uvicorn in a daemon thread and wait until it accepts connections."""
    app = create_app(config)
    state: SandboxState = app.state.sandbox
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and without it every
    # response waits ~40 ms for a delayed ACK (Nagle) between its header and body writes.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    chosen = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sandbox-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            state.store.close()
            raise SandboxStartError("the sandbox server did not start")
        time.sleep(0.01)
    trust = trust_list_path or config.db_path.with_name(f"{config.db_path.stem}-trust.json")
    write_trust_list(trust, config.seed)
    return RunningSandbox(server, thread, state, chosen, trust)
