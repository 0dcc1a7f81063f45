"""textual-serve's `Server` with a gate in front of every route, so no app process starts for a stranger.

- The key: `/?key=...` (compared in constant time) is exchanged at once for an HttpOnly, SameSite=Strict cookie
  holding a different random value, and the browser is sent on to `/`, so the key leaves the address bar. Every
  route, the websocket included, then needs that cookie; without it a short plain page answers 401.
- The Origin: a page on another port of 127.0.0.1 is same-site, so the browser sends it the cookie too; only the
  websocket's `Origin` tells the kiosk's own page from any other, and anything but the served origin is a 403.
- The cap: at most `max_sessions` app processes; the next websocket gets 503, and a slot is freed only once the
  session's process has been waited for (killed if it does not quit within a few seconds).
- The keyboard: the page is served with a script that gives the terminal the focus on load and back whenever it is
  lost (`kiosk.serve.focus`), so a wedge scanner's keys reach the app without a first touch.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import signal
from collections.abc import Callable

from aiohttp import WSCloseCode, web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler, Middleware
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from kiosk.i18n import Lang, Translator
from kiosk.serve.focus import with_focus
from kiosk.serve.page import in_words
from kiosk.serve.plan import ServePlan

log = logging.getLogger(__name__)

STOP_GRACE_S = 5.0
Words = Callable[[Translator], str]


class SessionProcess(AppService):
    """One browser session's `kiosk run`: the serve key kept out of its environment, and surely ended on close."""

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width, height)
        environment.pop("KIOSK_SERVE_SECRET", None)  # the app never needs it
        return environment

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            # The app has gone (quit or crashed): close the browser's socket as well, which frees the slot.
            with contextlib.suppress(Exception):
                await self.remote_close()

    async def close(self) -> None:
        """Ask the app to quit, kill it if it has not within `STOP_GRACE_S`, and wait until it has exited."""
        process = self._process
        try:
            await asyncio.wait_for(self.stop(), STOP_GRACE_S)
        except TimeoutError:
            log.warning("a browser session's app did not quit in %.0f s; killing it", STOP_GRACE_S)
        finally:
            if process is not None:
                if process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                await process.wait()


class AccessLog(AbstractAccessLogger):
    """Method, path and status of each request; never the query string, which carries the key when signing in."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.3f s", request.method, request.path, response.status, time)


class GuardedServer(Server):
    """textual-serve's server with the key, the websocket Origin and the session cap of a `ServePlan` enforced."""

    def __init__(self, command: str, plan: ServePlan, lang: Lang) -> None:
        # `exec`: the shell textual-serve starts the command with becomes the app, so ending it ends the app.
        super().__init__(f"exec {command}", host=plan.host, port=plan.port, title="Kiosk", public_url=plan.origin)
        self.plan = plan
        self._languages = [Translator(lang), Translator("en" if lang == "vi" else "vi")]
        self._cookie_name = f"kiosk-serve-{plan.port}"
        self._cookie_value = secrets.token_urlsafe(32)
        self._sessions = 0
        self._websockets: set[web.WebSocketResponse] = set()

    def initialize_logging(self) -> None:
        # Not textual-serve's handler: it prints tracebacks with local variables, which may hold what was typed.
        logging.basicConfig(level=logging.INFO, format="kiosk serve: %(message)s")

    async def on_startup(self, app: web.Application) -> None:
        """Nothing to print: the command says where to open the app once it listens."""

    async def on_shutdown(self, app: web.Application) -> None:
        # Closing the sockets ends each session's loop, whose `finally` then ends its app process.
        for websocket in list(self._websockets):
            await websocket.close(code=WSCloseCode.GOING_AWAY)

    def serve(self, debug: bool = False, on_listening: Callable[[], None] | None = None) -> None:
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.request_exit)
        web.run_app(
            self._make_app(),
            host=self.plan.host,
            port=self.plan.port,
            ssl_context=self.plan.tls,
            access_log_class=AccessLog,
            handle_signals=False,
            loop=loop,
            print=lambda _message: on_listening() if on_listening else None,
        )

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._gate())
        app.on_response_prepare.append(_harden)
        return app

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        # textual-serve's page, plus the script that gives its terminal the keyboard on load (`kiosk.serve.focus`),
        # in the kiosk's words (`kiosk.serve.page`).
        page = await super().handle_index(request)
        if isinstance(page, web.Response) and page.text is not None:
            page.text = in_words(with_focus(page.text), self._languages[0])
        return page

    def _gate(self) -> Middleware:
        @web.middleware
        async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path == "/ws" and request.headers.get("Origin") != self.plan.origin:
                log.warning("refused a websocket opened by a page of another origin")
                raise self._refusal(web.HTTPForbidden, lambda t: t("serve.wrong-origin"))
            key = request.query.get("key")
            if request.path == "/" and key is not None:
                if not _same(key, self.plan.secret):
                    log.warning("refused a wrong access key")
                    raise self._refusal(web.HTTPUnauthorized, lambda t: t("serve.wrong-key"))
                return self._sign_in(request)
            if not _same(request.cookies.get(self._cookie_name, ""), self._cookie_value):
                raise self._refusal(web.HTTPUnauthorized, lambda t: t("serve.need-key"))
            if request.path == "/" and self._sessions >= self.plan.max_sessions:
                raise self._full()
            return await handler(request)

        return gate

    def _sign_in(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(status=303, headers={"Location": str(request.rel_url.without_query_params("key"))})
        response.set_cookie(
            self._cookie_name, self._cookie_value, path="/", httponly=True, samesite="Strict", secure=self.plan.secure
        )
        return response

    def _full(self) -> web.HTTPException:
        log.warning("refused a browser session: %d already open", self._sessions)
        count = self.plan.max_sessions
        return self._refusal(web.HTTPServiceUnavailable, lambda t: t("serve.full", count=count))

    def _refusal(self, kind: type[web.HTTPException], words: Words) -> web.HTTPException:
        return kind(text="\n\n".join(words(t) for t in self._languages) + "\n", content_type="text/plain")

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        if self._sessions >= self.plan.max_sessions:
            raise self._full()
        self._sessions += 1  # no await since the check, so two handshakes cannot both take the last slot
        try:
            return await self._session(request)
        finally:
            self._sessions -= 1

    async def _session(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's websocket handler, with `SessionProcess` and an app that is surely gone at the end."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        await websocket.prepare(request)
        self._websockets.add(websocket)

        async def close() -> None:
            await websocket.close()

        app = SessionProcess(
            self.command,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=close,
            download_manager=self.download_manager,
            debug=self.debug,
        )
        try:
            await app.start(width, height)
            await self._process_messages(websocket, app)
        except asyncio.CancelledError:
            await websocket.close()
            raise
        except Exception as error:  # a broken message or pipe ends this session only
            log.warning("a browser session ended on %s", type(error).__name__)
        finally:
            self._websockets.discard(websocket)
            await app.close()
        return websocket


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


async def _harden(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"  # a framing page on another port would be same-site
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["Cache-Control"] = "no-store"
