"""HTTP limits in the hub's own server: a school puts no nginx in front of it, so uvicorn must hold alone.

Three guards, each against one way an anonymous client (or one stolen account) could
stop the hub for everyone:

* ``BodyLimit`` — an ASGI middleware, outermost but for the server's own error
  handler, that refuses a body larger than its route's cap *before* anything reads it
  and before any credential is checked: a declared ``Content-Length`` over the cap is
  a 413 at once, and a chunked body is counted as it streams and cut off at the cap.
  Without it a 100 MB JSON body was read into memory (and a multipart one spooled to
  temporary files) just to answer 401.
* ``guarded_protocol`` — uvicorn's h11 protocol with a deadline for the request
  headers (uvicorn has none: a client that sends one byte a minute held its socket
  forever) and a cap on open connections that refuses at accept time with a 503, so
  idle sockets cannot take every file descriptor (uvicorn's own ``limit_concurrency``
  answers 503 only once a request arrives and keeps the socket).
* ``raise_open_files_limit`` — the soft ``RLIMIT_NOFILE`` up to the hard limit, so the
  connection cap, not the kernel's default of 1024, is what binds.

Live streams per account and in total are capped in ``hub.api.stream``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import resource
from collections.abc import Callable
from typing import Any

import h11
import uvicorn
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from hub.settings import HubSettings

log = logging.getLogger(__name__)

#: Routes whose body is a photo upload (multipart; a calibration certificate is a photo or a PDF of the same cap):
#: they get the photo cap, everything else the general one.
_PHOTO_ROUTES = re.compile(
    r"^/api/((alerts/[^/]+|workorders/[^/]+|checks)/photos|calibration/checks/[^/]+/certificate)/?$")
#: The one form anyone may post without signing in (a hazard from a place's QR code): a few lines of text.
_SCAN_FORM = re.compile(r"^/q/[^/]+/?$")
#: Its cap: the form's fields are a category and at most 500 characters.
SCAN_FORM_MAX_BYTES = 16 * 1024
#: Room for the multipart framing around a photo of exactly the photo limit, so the route's own check decides.
MULTIPART_OVERHEAD = 64 * 1024
#: File descriptors kept back from the connection cap for the databases, the broker link, logs and photos.
FD_RESERVE = 128
#: Each connection's header deadline and keep-alive timeout is drawn from [1 - SPREAD, 1] of its setting.
#: Connections opened together (an attack, or every phone's page when the hub comes back) would otherwise
#: all time out, and reconnect, in the same instant: the bursts of a thousand that kept /api/health waiting.
DEADLINE_SPREAD = 0.25
#: Events that come in thousands under attack are logged once per this many seconds, with their count.
LOG_EVERY_S = 60.0


def spread(seconds: float, draw: Callable[[], float] = random.random) -> float:
    """``seconds`` less up to ``DEADLINE_SPREAD`` of it: never longer than the setting, rarely equal for two."""
    return seconds * (1.0 - DEADLINE_SPREAD * draw())


class CountedLog:
    """A log line that would be written thousands of times a minute under attack, written once a minute.

    The first occurrence after a quiet minute is logged at once; the rest of that minute
    are counted and logged as one line when it ends. One line per closed connection was
    more than journald keeps (its default rate limit drops the rest anyway) and each
    write was paid for on the event loop.
    """

    def __init__(self, logger: logging.Logger, level: int, message: str, every_s: float = LOG_EVERY_S) -> None:
        self.logger = logger
        self.level = level
        self.message = message
        self.every_s = every_s
        self.pending = 0
        self._window: asyncio.TimerHandle | None = None
        self._window_loop: asyncio.AbstractEventLoop | None = None
        self._detail = ""

    def add(self, loop: asyncio.AbstractEventLoop, detail: str = "") -> None:
        """One more occurrence; ``detail`` (the latest state) is appended to the line."""
        self._detail = detail
        # A window of another (stopped) loop would never end: the server was restarted in this process.
        if self._window is None or self._window_loop is not loop:
            self.logger.log(self.level, "%s: 1%s", self.message, detail)
            self.pending = 0
            self._window_loop = loop
            self._window = loop.call_later(self.every_s, self._end_window, loop)
        else:
            self.pending += 1

    def _end_window(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.pending:
            self.logger.log(self.level, "%s: %d in the last %g s%s", self.message, self.pending, self.every_s,
                            self._detail)
            self.pending = 0
            self._window = loop.call_later(self.every_s, self._end_window, loop)
        else:
            self._window = None


def _refusal(status: int, text: str, retry_after_s: int | None = None) -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = f'{{"detail":"{text}"}}'.encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               # The rest of the body is not read: the connection cannot be reused, say so.
               (b"connection", b"close")]
    if retry_after_s is not None:
        headers.append((b"retry-after", str(retry_after_s).encode()))
    return headers, body


class BodyTooLarge(HTTPException):
    """A streamed (chunked) body went past its route's cap while the app was reading it.

    An ``HTTPException`` so that FastAPI, which turns any other error while reading a
    body into a 400, passes it on, and the app's own handler answers 413.
    """

    def __init__(self, cap: int) -> None:
        super().__init__(413, f"request body over {cap} bytes · 请求内容过大", headers={"Connection": "close"})


class BodyLimit:
    """Refuse request bodies over the route's cap with 413, before the app or authentication reads them."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_photo_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_photo_body_bytes = max_photo_body_bytes

    def cap_for(self, path: str) -> int:
        """The largest body ``path`` accepts: photo uploads their photo cap, JSON and forms the general one."""
        if _PHOTO_ROUTES.match(path):
            return self.max_photo_body_bytes
        return min(SCAN_FORM_MAX_BYTES, self.max_body_bytes) if _SCAN_FORM.match(path) else self.max_body_bytes

    async def _refuse(self, send: Send, cap: int) -> None:
        headers, body = _refusal(413, f"request body over {cap} bytes · 请求内容过大")
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.cap_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > cap
            except ValueError:
                too_large = False  # the server's parser has already refused a malformed length
            if too_large:
                await self._refuse(send, cap)
                return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise BodyTooLarge(cap)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            # Read outside the app's exception handling (e.g. by a plain ASGI part): answer here.
            if not started:
                await self._refuse(send, cap)


def guarded_protocol(header_timeout_s: float, max_connections: int) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a header deadline and an accept-time connection cap.

    The deadline runs from the moment a connection is made (or, on a kept-alive
    connection, from the first byte of the next request) until the request's headers
    are complete; a client still sending headers then is disconnected. Each
    connection draws its deadline and keep-alive timeout by ``spread``. A connection
    past ``max_connections`` gets a 503 with ``Retry-After`` and is closed before it
    is read, so it costs its file descriptor for a moment only.
    """

    closed_idle = CountedLog(log, logging.INFO,
                             f"Closed connections that sent no complete request headers in {header_timeout_s:g} s")
    refused = CountedLog(log, logging.WARNING, f"Refused connections over the cap of {max_connections}")

    class GuardedH11Protocol(H11Protocol):
        header_timer: asyncio.TimerHandle | None = None
        header_deadline_s = header_timeout_s

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            if len(self.connections) >= max_connections:
                # Refused before it counts as a connection: never read, closed as soon as the answer is written.
                self.transport = transport
                refused.add(self.loop, f" ({len(self.connections)} open)")
                headers, body = _refusal(503, "too many connections · 连接过多，请稍后再试", retry_after_s=5)
                head = b"HTTP/1.1 503 Service Unavailable\r\n" + b"".join(
                    name + b": " + value + b"\r\n" for name, value in headers) + b"\r\n"
                transport.write(head + body)
                transport.close()
                return
            super().connection_made(transport)
            self.header_deadline_s = spread(header_timeout_s)
            self.timeout_keep_alive = spread(self.timeout_keep_alive)  # type: ignore[assignment]  # a float is what call_later takes
            self._arm_header_timer()

        def _arm_header_timer(self) -> None:
            if self.header_timer is None:
                self.header_timer = self.loop.call_later(self.header_deadline_s, self._header_timeout)

        def _cancel_header_timer(self) -> None:
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None

        def _header_timeout(self) -> None:
            self.header_timer = None
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                closed_idle.add(self.loop)
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self._arm_header_timer()  # (part of) the headers of the next request: they are due in time
            else:
                self._cancel_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            super().connection_lost(exc)

    return GuardedH11Protocol


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft open-files limit to the hard one where allowed; returns the (soft, hard) now in force.

    Every connection is a file descriptor; the common default soft limit of 1024 was
    what ~1,050 idle connections exhausted, after which even ``/api/health`` failed.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError) as error:
            log.warning("could not raise the open-files limit from %d to %d: %s", soft, wanted, error)
    return soft, hard


def connection_cap(settings: HubSettings, open_files: int) -> int:
    """The connection cap in force: the setting, within the open-files limit less a reserve for the hub itself."""
    if open_files == resource.RLIM_INFINITY:
        return settings.http_max_connections
    return max(1, min(settings.http_max_connections, open_files - FD_RESERVE))


#: Paths that carry a secret (a one-tap alarm link, a device's one-time config fetch): logged without it.
_SECRET_PATHS = re.compile(r"^(/link/\d+/|/api/devices/enrol/)[^/?\s]+")


class RedactSecretPaths(logging.Filter):
    """Keep tokens out of uvicorn's access log: ``GET /link/12/<token>`` is logged as ``/link/12/…``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_SECRET_PATHS.sub(r"\1…", arg) if isinstance(arg, str) else arg
                                for arg in record.args)
        return True


class CountRefusals(logging.Filter):
    """Count the access log's refusals by the limits (429, and 503 for a live stream) instead of writing each.

    A thousand reconnecting stream requests were a thousand lines every few seconds:
    more than journald keeps, and written on the event loop.
    """

    def __init__(self) -> None:
        super().__init__()
        self.counted = CountedLog(logging.getLogger("uvicorn.access"), logging.INFO,
                                  "Refused requests over a limit (429, or 503 for a live page)")

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or len(args) < 5:
            return True
        refused = args[4] == 429 or (args[4] == 503 and isinstance(args[2], str) and args[2].startswith("/api/stream"))
        if not refused:
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return True
        self.counted.add(loop, f" (latest: {args[1]} {args[2]} from {args[0]})")
        return False


def redact_access_log() -> None:
    """Put the filters on uvicorn's access logger once (uvicorn's own logging setup keeps logger filters)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactSecretPaths) for f in access.filters):
        access.addFilter(RedactSecretPaths())
    if not any(isinstance(f, CountRefusals) for f in access.filters):
        access.addFilter(CountRefusals())


def server_config(app: ASGIApp, settings: HubSettings, open_files: int | None = None,
                  **overrides: Any) -> uvicorn.Config:
    """The uvicorn configuration ``xiaoan hub`` runs with (and the tests serve): every limit from the settings."""
    if open_files is None:
        open_files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    options: dict[str, Any] = {
        "host": settings.http_host, "port": settings.http_port, "log_level": "info",
        # Named, not "auto": a hub that lost uvloop would otherwise fall back to asyncio's loop without a word.
        "loop": "uvloop",
        "http": guarded_protocol(settings.http_header_timeout_s, connection_cap(settings, open_files)),
        "timeout_keep_alive": settings.http_keep_alive_s,
        # Request headers larger than this are a 400 (h11's default is 16 KiB; a browser sends ~2 KiB).
        "h11_max_incomplete_event_size": settings.http_max_header_bytes,
        "backlog": settings.http_backlog,
    }
    options.update(overrides)
    config = uvicorn.Config(app, **options)
    redact_access_log()
    return config
