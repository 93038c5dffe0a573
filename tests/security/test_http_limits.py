"""The hub's own HTTP server under the attacks of issue 16: huge bodies, slow headers, idle sockets, stream floods.

Each test serves the real app with the uvicorn configuration ``xiaoan hub`` runs
(``hub.http_limits.server_config``) on a free loopback port and talks raw HTTP to it
over sockets, so what is measured is the server's behaviour on the wire, not a test
client's. Traffic stays on 127.0.0.1 and is bounded in count; waits are for conditions.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from hub.app import create_app
from hub.auth.credentials import Passwords
from hub.auth.roles import Role
from hub.http_limits import (
    DEADLINE_SPREAD,
    FD_RESERVE,
    CountedLog,
    CountRefusals,
    connection_cap,
    raise_open_files_limit,
    server_config,
    spread,
)
from hub.runtime import Hub
from hub.settings import HubSettings
from hub.web.broadcast import StreamSlots
from tests.conftest import wait_for
from tests.hub.auth.conftest import FAST
from tests.hub.auth_helpers import PASSWORD, bearer, make_user

#: Answers are awaited this long at most (a loaded 2-core machine); they come far sooner.
ANSWER_S = 15.0
MB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Served:
    hub: Hub
    server: uvicorn.Server
    port: int
    app: FastAPI

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=ANSWER_S)
        return sock

    def open_connections(self) -> int:
        return len(self.server.server_state.connections)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start the hub's app under ``server_config`` with some settings changed; stopped at the end."""
    running: list[tuple[Hub, uvicorn.Server, threading.Thread]] = []

    def start(**overrides: Any) -> Served:
        settings = HubSettings(home=tmp_path / f"hub{len(running)}", http_host="127.0.0.1", http_port=_free_port(),
                               **overrides)
        hub = Hub(settings, connect_mqtt=False)
        hub.accounts.passwords = Passwords(FAST)
        app = create_app(settings, hub=hub)
        server = uvicorn.Server(server_config(app, settings, log_level="warning", lifespan="on",
                                              timeout_graceful_shutdown=5))
        thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
        thread.start()
        running.append((hub, server, thread))
        wait_for(lambda: server.started, timeout=20)
        return Served(hub, server, settings.http_port, app)

    yield start
    for hub, server, thread in running:
        server.should_exit = True
        thread.join(timeout=15)
        hub.stop()


def _head(sock: socket.socket) -> tuple[int, dict[str, str]]:
    """Read an answer's status line and headers from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before an answer's headers: {data!r}")
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in head[1:])}
    return int(head[0].split()[1]), headers


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed ``sock`` (reads end), without blocking."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def _send_until_answered(sock: socket.socket, head: bytes, chunk: bytes, limit: int) -> tuple[int, int]:
    """Send ``head`` then ``chunk`` repeatedly (up to ``limit`` bytes of body) until an answer arrives.

    Returns (body bytes sent when the answer was seen, its status).
    """
    sock.sendall(head)
    sent = 0
    deadline = time.monotonic() + ANSWER_S
    while time.monotonic() < deadline:
        readable, writable, _ = select.select([sock], [sock] if sent < limit else [], [], 0.5)
        if readable:
            status, _ = _head(sock)
            return sent, status
        if writable:
            try:
                sent += sock.send(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
    status, _ = _head(sock)
    return sent, status


@pytest.mark.parametrize(("path", "content_type"), [
    ("/api/silences", "application/json"),
    ("/login", "application/x-www-form-urlencoded"),
    ("/api/alerts/1/photos", "multipart/form-data; boundary=xiaoan"),
])
def test_a_declared_100_mb_body_is_refused_before_it_is_read_or_credentials_are_checked(
        serve: Callable[..., Served], path: str, content_type: str) -> None:
    served = serve()
    with served.connect() as sock:
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {100 * MB}\r\n\r\n").encode()
        sent, status = _send_until_answered(sock, head, b"x" * 65536, 100 * MB)
        # Before the limit the hub read all 100 MB (and spooled multipart to disk) to answer 401.
        assert status == 413
        assert sent < 16 * MB, f"the answer came only after {sent} bytes"
        wait_for(lambda: _closed_by_server(sock), timeout=ANSWER_S)


def test_a_chunked_body_is_cut_off_at_its_cap(serve: Callable[..., Served]) -> None:
    served = serve()
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    with served.connect() as sock:
        head = (b"POST /api/silences HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        sent, status = _send_until_answered(sock, head, chunk, 100 * MB)
        assert status == 413
        assert sent < 16 * MB, f"the answer came only after {sent} bytes"
        wait_for(lambda: _closed_by_server(sock), timeout=ANSWER_S)


def test_a_photo_larger_than_the_general_cap_still_reaches_its_route(serve: Callable[..., Served]) -> None:
    served = serve()
    _, headers = bearer(served.hub, Role.ADMIN)
    photo = b"\xff\xd8\xff" + b"\0" * (2 * MB)
    answer = httpx.post(f"{served.url}/api/alerts/999/photos", headers=headers,
                        files={"photo": ("p.jpg", photo, "image/jpeg")}, timeout=ANSWER_S)
    assert answer.status_code == 404, answer.text  # the route read the body and looked for the alert
    json_answer = httpx.post(f"{served.url}/api/silences", headers=headers, content=b" " * (2 * MB),
                             timeout=ANSWER_S)
    assert json_answer.status_code == 413


def test_slow_headers_and_silent_connections_are_disconnected(serve: Callable[..., Served]) -> None:
    served = serve(http_header_timeout_s=1.0)
    sockets = [served.connect() for _ in range(20)]
    try:
        for sock in sockets[:10]:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        # Before the deadline these were never closed (0 of 100 in the attack run).
        wait_for(lambda: all(_closed_by_server(sock) for sock in sockets), timeout=ANSWER_S)
        wait_for(lambda: served.open_connections() == 0, timeout=ANSWER_S)
    finally:
        for sock in sockets:
            sock.close()


def test_a_slow_second_request_on_a_kept_alive_connection_is_disconnected(serve: Callable[..., Served]) -> None:
    served = serve(http_header_timeout_s=1.0, http_keep_alive_s=60)
    with served.connect() as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, _ = _head(sock)
        assert status in (200, 503)
        sock.sendall(b"GET /api/health HTTP/1.1\r\n")  # keeps the keep-alive timer off, then stalls
        wait_for(lambda: _closed_by_server(sock), timeout=ANSWER_S)


def test_an_idle_kept_alive_connection_is_closed(serve: Callable[..., Served]) -> None:
    served = serve(http_keep_alive_s=1)
    with served.connect() as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        _head(sock)
        wait_for(lambda: _closed_by_server(sock), timeout=ANSWER_S)


def test_past_the_connection_cap_the_refusal_is_immediate_and_the_hub_recovers(
        serve: Callable[..., Served]) -> None:
    served = serve(http_max_connections=20, http_header_timeout_s=120.0)
    held = [served.connect() for _ in range(20)]
    try:
        wait_for(lambda: served.open_connections() == 20, timeout=ANSWER_S)
        with served.connect() as extra:
            started = time.monotonic()
            status, headers = _head(extra)
            assert status == 503 and headers["retry-after"]
            assert time.monotonic() - started < ANSWER_S
        assert served.open_connections() == 20  # the refused one was never counted
    finally:
        for sock in held:
            sock.close()
    wait_for(lambda: served.open_connections() == 0, timeout=ANSWER_S)
    assert httpx.get(f"{served.url}/api/health", timeout=ANSWER_S).status_code in (200, 503)


def _open_stream(served: Served, headers: dict[str, str]) -> tuple[socket.socket, int, dict[str, str]]:
    sock = served.connect()
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    sock.sendall(f"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n{lines}\r\n".encode())
    status, answer = _head(sock)
    return sock, status, answer


def test_one_account_cannot_take_every_stream_and_health_and_login_still_answer(
        serve: Callable[..., Served]) -> None:
    served = serve(stream_max_per_account=3, stream_max_total=5)
    cook, cook_headers = bearer(served.hub, Role.CANTEEN_STAFF)
    _, other_headers = bearer(served.hub, Role.CANTEEN_STAFF)
    opened: list[socket.socket] = []
    try:
        statuses = []
        for _ in range(12):  # in the attack run, 1,000 of one cook's streams took every file descriptor
            sock, status, headers = _open_stream(served, cook_headers)
            opened.append(sock)
            statuses.append(status)
            if status == 429:
                assert headers["retry-after"]
        assert statuses.count(200) == 3 and statuses.count(429) == 9
        # The cap of one account reached: health, login and other people's pages go on.
        assert httpx.get(f"{served.url}/api/health", timeout=ANSWER_S).status_code in (200, 503)
        person = make_user(served.hub, Role.CANTEEN_STAFF, password=PASSWORD)
        login = httpx.post(f"{served.url}/login", data={"username": person.username, "password": PASSWORD,
                                                         "next": "/"}, timeout=ANSWER_S)
        assert login.status_code == 303, login.text
        totals = []
        for _ in range(3):
            sock, status, headers = _open_stream(served, other_headers)
            opened.append(sock)
            totals.append((status, headers.get("retry-after")))
        assert [status for status, _ in totals] == [200, 200, 503] and totals[2][1]
        # A page closed gives its slot back.
        opened[0].close()
        slots: StreamSlots = served.app.state.stream_slots
        wait_for(lambda: slots.held(cook.id) == 2, timeout=ANSWER_S)
        sock, status, _ = _open_stream(served, cook_headers)
        opened.append(sock)
        assert status == 200
    finally:
        for sock in opened:
            sock.close()


def test_refused_streams_of_a_credential_at_its_cap_never_reach_sign_in(
        serve: Callable[..., Served], monkeypatch: pytest.MonkeyPatch) -> None:
    """A thousand reconnecting refused streams went through routing, sign-in and the token lookup each time."""
    served = serve(stream_max_per_account=2, stream_max_total=3)
    _, cook_headers = bearer(served.hub, Role.CANTEEN_STAFF)
    lookups: list[str] = []
    token_user = served.hub.accounts.token_user

    def counted(token: str) -> Any:
        lookups.append(token)
        return token_user(token)

    monkeypatch.setattr(served.hub.accounts, "token_user", counted)
    opened: list[socket.socket] = []
    try:
        for _ in range(2):
            sock, status, _ = _open_stream(served, cook_headers)
            opened.append(sock)
            assert status == 200
        assert len(lookups) == 2
        for _ in range(20):
            sock, status, headers = _open_stream(served, cook_headers)
            opened.append(sock)
            assert (status, headers["retry-after"]) == (429, "30")
        assert len(lookups) == 2, "a refusal the caps decide needs no sign-in"
        # Another account's credential is not known to hold a stream: it goes the whole way and gets the last slot.
        _, other_headers = bearer(served.hub, Role.CANTEEN_STAFF)
        sock, status, _ = _open_stream(served, other_headers)
        opened.append(sock)
        assert status == 200 and len(lookups) == 3
        # Every slot taken: refused for anyone, signed in or not, before sign-in.
        sock, status, headers = _open_stream(served, {})
        opened.append(sock)
        assert (status, headers["retry-after"]) == (503, "30")
        # A page closed gives the credential's slot back, and the same token is signed in again.
        opened[0].close()
        slots: StreamSlots = served.app.state.stream_slots
        wait_for(lambda: slots.held() == 2, timeout=ANSWER_S)
        sock, status, _ = _open_stream(served, cook_headers)
        opened.append(sock)
        assert status == 200 and len(lookups) == 4
    finally:
        for sock in opened:
            sock.close()


def test_stream_slots_refuse_early_only_what_they_know() -> None:
    slots = StreamSlots(per_account=2, total=4)
    assert slots.refused_early("token-a") is None and slots.refused_early(None) is None
    assert slots.acquire(1, "token-a") is None and slots.acquire(1, "session-b") is None
    assert slots.refused_early("token-a") == "account" and slots.refused_early("session-b") == "account"
    assert slots.refused_early("token-c") is None, "an unknown credential is signed in by the route"
    slots.release(1, "token-a")
    assert slots.refused_early("token-a") is None and slots.refused_early("session-b") is None
    assert slots.acquire(2, "token-d") is None and slots.acquire(2, "token-d") is None
    assert slots.acquire(3, "token-e") is None
    assert slots.refused_early(None) == "total"


def test_each_connection_draws_its_own_deadlines_so_a_burst_does_not_time_out_at_once(
        serve: Callable[..., Served]) -> None:
    """2,000 idle connections opened together all reached their header deadline, and reconnected, together."""
    assert spread(10.0, lambda: 0.0) == 10.0
    assert spread(10.0, lambda: 1.0) == pytest.approx(10.0 * (1 - DEADLINE_SPREAD))
    served = serve(http_header_timeout_s=30, http_keep_alive_s=20)
    socks = [served.connect() for _ in range(40)]
    try:
        wait_for(lambda: served.open_connections() == 40, timeout=ANSWER_S)
        protocols: list[Any] = list(served.server.server_state.connections)
        headers = [protocol.header_deadline_s for protocol in protocols]
        keep_alive = [protocol.timeout_keep_alive for protocol in protocols]
        for drawn, setting in ((headers, 30.0), (keep_alive, 20.0)):
            assert all(setting * (1 - DEADLINE_SPREAD) <= value <= setting for value in drawn)
            assert len(set(drawn)) > 30, "deadlines drawn alike would expire in one burst"
    finally:
        for sock in socks:
            sock.close()


def test_a_flood_of_closed_connections_is_one_log_line_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.counted")
    counted = CountedLog(logger, logging.INFO, "Closed connections", every_s=0.05)

    async def flood() -> None:
        loop = asyncio.get_running_loop()
        for n in range(1000):
            counted.add(loop, f" ({n} open)")
        await asyncio.sleep(0.2)  # past the end of the window, and of a quiet one after it
        counted.add(loop, " (1 open)")

    with caplog.at_level(logging.INFO, logger="tests.counted"):
        asyncio.run(flood())
    assert [record.getMessage() for record in caplog.records] == [
        "Closed connections: 1 (0 open)",
        "Closed connections: 999 in the last 0.05 s (999 open)",
        "Closed connections: 1 (1 open)",
    ]


def test_the_access_log_counts_refused_streams_and_writes_everything_else() -> None:
    access = logging.getLogger("tests.access")
    access.propagate = False
    access.setLevel(logging.INFO)
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    access.addHandler(handler)
    refusals = CountRefusals()
    refusals.counted.logger = access
    access.addFilter(refusals)
    line = '%s - "%s %s HTTP/%s" %d'

    async def traffic() -> None:
        for _ in range(500):
            access.info(line, "127.0.0.1:5000", "GET", "/api/stream", "1.1", 429)
        access.info(line, "127.0.0.1:5001", "GET", "/api/stream", "1.1", 503)
        access.info(line, "127.0.0.1:5002", "GET", "/api/health", "1.1", 503)
        access.info(line, "127.0.0.1:5003", "GET", "/api/alerts", "1.1", 200)

    try:
        asyncio.run(traffic())
    finally:
        access.removeHandler(handler)
        access.removeFilter(refusals)
    assert lines == [
        "Refused requests over a limit (429, or 503 for a live page): 1 (latest: GET /api/stream from 127.0.0.1:5000)",
        '127.0.0.1:5002 - "GET /api/health HTTP/1.1" 503',
        '127.0.0.1:5003 - "GET /api/alerts HTTP/1.1" 200',
    ]
    assert refusals.counted.pending == 500, "the rest are counted for the minute's summary line"


def test_the_hub_raises_its_open_files_limit_and_fits_its_connection_cap_in_it() -> None:
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        if before[1] != resource.RLIM_INFINITY and before[1] > 256:
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, before[1]))
        soft, hard = raise_open_files_limit()
        assert (soft, hard) == resource.getrlimit(resource.RLIMIT_NOFILE)
        assert hard in (soft, resource.RLIM_INFINITY)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)
    settings = HubSettings(http_max_connections=5000)
    assert connection_cap(settings, 1024) == 1024 - FD_RESERVE
    assert connection_cap(settings, 1_000_000) == 5000


def test_xiaoan_hub_passes_every_limit_to_uvicorn() -> None:
    settings = HubSettings(http_keep_alive_s=7, http_max_header_bytes=8192, http_backlog=100, http_max_connections=50)
    config = server_config(create_app(settings), settings, open_files=10_000)
    assert config.timeout_keep_alive == 7
    assert config.h11_max_incomplete_event_size == 8192
    assert config.backlog == 100
    assert config.loop == "uvloop"
    assert isinstance(config.http, type) and config.http.__name__ == "GuardedH11Protocol"
