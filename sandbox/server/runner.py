"""Run a sandbox server in a background thread on a free loopback port: for tests, benchmarks and the demo.

    with start_sandbox(SandboxConfig(db_path=tmp / "s.sqlite", population=500, demo_clients=True)) as sandbox:
        sandbox.base_url         # http://127.0.0.1:PORT/fhir
        sandbox.trust_list_path  # the JWKS of this server's facility keys, public halves only

The listening socket is bound before uvicorn starts, so there is no window in which another process takes the port.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from sandbox.server.app import create_app
from sandbox.server.config import SandboxConfig
from sandbox.server.facility_keys import check_trust_list_target, write_trust_list
from sandbox.server.state import SandboxState


class SandboxStartError(RuntimeError):
    """The server did not come up in time."""


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
    """Prepare the database, write the trust list of this server's facility keys (by default beside the database),
    start uvicorn in a daemon thread and wait until it is ready: accepting connections, with the matching engine
    loaded from the index stored beside the database or built (and that index stored for the next start).

    Besides `create_app`'s errors, raises `NotATrustListError` when `trust_list_path` holds something else."""
    trust = trust_list_path or config.db_path.with_name(f"{config.db_path.stem}-trust.json")
    check_trust_list_target(trust)  # before the database is prepared, which may take long
    app = create_app(config)
    state: SandboxState = app.state.sandbox
    try:
        write_trust_list(trust, state.keys)
    except BaseException:
        if state.matching is not None:
            state.matching.close()
        state.store.close()
        raise
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
            if state.matching is not None:
                state.matching.close()
            state.store.close()
            raise SandboxStartError("the sandbox server did not start")
        time.sleep(0.01)
    running = RunningSandbox(server, thread, state, chosen, trust)
    try:
        _wait_until_ready(running, thread)
    except BaseException:
        running.stop()
        raise
    return running


def _wait_until_ready(running: RunningSandbox, thread: threading.Thread) -> None:
    """Ready means every operation at full quality: the matching engine loaded or built (or its failure logged and
    `$match` withdrawn). Until then the server answers 503 (`readiness`); a million people build in a minute or two
    the first time, and load in seconds from the stored index after that."""
    matching = running.state.matching
    if matching is None:
        return
    while not matching.ready:
        if not thread.is_alive():
            raise SandboxStartError("the sandbox server stopped while the matching engine was being prepared")
        matching.wait_ready(0.05)
