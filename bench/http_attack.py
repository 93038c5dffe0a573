"""The hub's own HTTP server under the attacks of issue 16, all at once, and 100 MB bodies without credentials.

A real ``xiaoan hub`` (its own process, started as a school starts it, with a private
broker) is held at once by

* ``idle`` TCP connections that never send a byte,
* ``slow`` clients sending their request headers one byte a second,
* ``streams`` ``GET /api/stream`` requests with the API tokens of ``accounts`` canteen
  accounts — the per-account and total stream caps refuse most of them (429/503),

every attacker reconnecting at once whenever the hub closes it (the header deadline,
the keep-alive timeout, a refusal), so the load stays on for the whole window. The
attackers run in a child process of their own (``python -m bench.http_attack attack``)
that raises its own open-files limit. Meanwhile this process asks ``/api/health`` on a
fresh connection every ``PROBE_EVERY_S`` and samples the hub's memory (``VmRSS``; the
peak ``VmHWM`` is reset through ``/proc/PID/clear_refs`` before each phase, so a peak
between two samples is not missed) and its open file descriptors.

Then, with the attackers gone, each 100 MB body (JSON and multipart, declared and
chunked) is sent without credentials: the status, how much had been sent when the
answer came, and the hub's peak memory while it was sent.

The target (issue 16): health answers within 1 s throughout and the hub's memory
stays within 100 MB of idle.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import REPO, BenchError, BrokerEnv, cpu_seconds
from hub.auth.roles import Role
from hub.auth.store import AccountStore
from hub.broker import free_port

HOST = "127.0.0.1"
MB = 1024 * 1024
#: How often health is asked during the attack (each time on a new connection, as a watchdog does).
PROBE_EVERY_S = 0.2
#: A health answer slower than this counts as failed (the target is 1 s; this bounds a hung probe).
PROBE_TIMEOUT_S = 5.0
#: Descriptors the attacker keeps beyond its connections (interpreter, pipes, event loop).
ATTACKER_FD_SPARE = 256


@dataclass(frozen=True)
class AttackSize:
    idle: int
    slow: int
    streams: int
    accounts: int
    seconds: float
    body_mb: int
    #: None: the hub's default header deadline (10 s); the tiny run shortens it to see reconnections.
    header_timeout_s: float | None = None


#: Four cooks' accounts: past 8 streams each the per-account cap answers 429. With 25 or more accounts the
#: total cap (200) fills first and answers 503 (``python -m bench --only attack --attack-accounts 32``).
FULL = AttackSize(idle=2000, slow=100, streams=1000, accounts=4, seconds=30.0, body_mb=100)
#: Bodies of 16 MB: over the photo cap (8 MiB + 64 KiB) too.
TINY = AttackSize(idle=100, slow=10, streams=40, accounts=2, seconds=4.0, body_mb=16, header_timeout_s=1.0)


@dataclass
class BodyRun:
    name: str
    status: int
    sent_mb: float
    seconds: float
    peak_rss_mb: float


@dataclass
class AttackRun:
    size: dict[str, Any]
    idle_rss_mb: float
    attack_peak_rss_mb: float
    after_rss_mb: float
    hub_fds_idle: int
    hub_fds_max: int
    health_ms: list[float]
    #: When each answered probe was sent, in seconds from the moment every attacker was first connected.
    health_at: list[float]
    health_failed: int
    health_statuses: dict[str, int]
    #: Attacker connections open at once, as the attacker saw them: the most, and the median of its reports.
    held_max: int
    held_median: float
    opened: int
    closed_by_hub: int
    refused_at_accept: int
    connect_errors: int
    stream_statuses: dict[str, int]
    streams_held_max: int
    recovered_health_ms: float
    #: CPU seconds the hub used from the first attacker's connection to the last probe.
    hub_cpu_s: float
    #: Seconds from the first attacker's connection to the last probe.
    attack_s: float
    #: CPU seconds the attacker's own process used meanwhile (it shares the machine with the hub).
    attacker_cpu_s: float
    bodies: list[BodyRun] = field(default_factory=list)


# -- the hub's process, from outside -----------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a live process, in kB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def reset_peak(pid: int) -> None:
    """Start the process's peak-RSS (VmHWM) over from its current RSS (Linux ≥ 4.0)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def health(port: int, timeout: float = PROBE_TIMEOUT_S) -> tuple[int, float]:
    """``GET /api/health`` on a new connection: (status, ms to the complete answer); status 0 when none came."""
    started = time.perf_counter()
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return 0, (time.perf_counter() - started) * 1000
    ms = (time.perf_counter() - started) * 1000
    try:
        return int(data.split(b" ", 2)[1]), ms
    except (IndexError, ValueError):
        return 0, ms


class Hub:
    """``xiaoan hub`` as a school runs it, with its own state directory and a private broker."""

    def __init__(self, env: BrokerEnv, home: Path, size: AttackSize) -> None:
        self.port = free_port()
        self.home = home
        extra = {"XIAOAN_HTTP_HOST": HOST, "XIAOAN_HTTP_PORT": str(self.port)}
        if size.header_timeout_s is not None:
            extra["XIAOAN_HTTP_HEADER_TIMEOUT_S"] = str(size.header_timeout_s)
            extra["XIAOAN_HTTP_KEEP_ALIVE_S"] = str(size.header_timeout_s)
        self.env = env.hub_env(home, "bench-http", extra=extra)
        self.env.pop("XIAOAN_CONFIG", None)
        self.env.pop("XIAOAN_NOTIFY_CONFIG", None)
        self.process: subprocess.Popen[bytes] | None = None

    def tokens(self, accounts: int) -> list[str]:
        """Canteen accounts made before the hub starts (so it makes no first admin), one API token each."""
        store = AccountStore(self.home / "hub" / "hub.sqlite3")
        try:
            return [store.create_token(store.create_user(f"cook{i}", f"厨师 {i}", Role.CANTEEN_STAFF).id, "bench")[0]
                    for i in range(accounts)]
        finally:
            store.close()

    def start(self) -> Hub:
        (self.home / "hub").mkdir(parents=True, exist_ok=True)
        with (self.home / "hub.log").open("wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "hub.cli", "hub"], cwd=REPO, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"xiaoan hub exited with {self.process.returncode}: see {self.home / 'hub.log'}")
            if health(self.port, 1.0)[0] in (200, 503):
                return self
            time.sleep(0.2)
        raise BenchError("xiaoan hub did not answer /api/health within 60 s")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- the attacker (child process) -------------------------------------------------------------------


@dataclass
class Tally:
    open: int = 0
    opened: int = 0
    closed_by_hub: int = 0
    refused_at_accept: int = 0
    connect_errors: int = 0
    streams_open: int = 0
    streams_open_max: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


class Attacker:
    def __init__(self, port: int, tokens: list[str]) -> None:
        self.port = port
        self.tokens = tokens
        self.tally = Tally()
        self.connecting = asyncio.Semaphore(256)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        async with self.connecting:
            try:
                reader, writer = await asyncio.open_connection(HOST, self.port)
            except OSError:
                self.tally.connect_errors += 1
                await asyncio.sleep(0.5)
                return None
        self.tally.open += 1
        self.tally.opened += 1
        return reader, writer

    def _closed(self, writer: asyncio.StreamWriter, first: bytes) -> None:
        self.tally.open -= 1
        self.tally.closed_by_hub += 1
        if first.startswith(b"HTTP/1.1 503") and b"too many connections" in first:
            self.tally.refused_at_accept += 1
        writer.close()

    @staticmethod
    async def _until_eof(reader: asyncio.StreamReader, first: bytes = b"") -> bytes:
        """Read until the hub closes; returns the first bytes it sent (to tell a refusal)."""
        while True:
            try:
                chunk = await reader.read(65536)
            except OSError:
                return first
            if not chunk:
                return first
            first = first or chunk

    async def idle(self) -> None:
        while True:
            opened = await self._connect()
            if opened is None:
                continue
            reader, writer = opened
            self._closed(writer, await self._until_eof(reader))

    async def slow(self) -> None:
        line = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        trickle = b"X-Slow: " + b"a" * 1000
        while True:
            opened = await self._connect()
            if opened is None:
                continue
            reader, writer = opened
            first = b""
            try:
                writer.write(line)
                for byte in trickle:
                    writer.write(bytes([byte]))
                    try:
                        first = await asyncio.wait_for(reader.read(65536), 1.0)
                        break  # an answer or the end: the hub is done with this one
                    except TimeoutError:
                        continue
            except OSError:
                pass
            self._closed(writer, await self._until_eof(reader, first))

    async def stream(self, index: int) -> None:
        token = self.tokens[index % len(self.tokens)]
        request = (f"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                   f"Authorization: Bearer {token}\r\n\r\n").encode()
        while True:
            opened = await self._connect()
            if opened is None:
                continue
            reader, writer = opened
            first = b""
            try:
                writer.write(request)
                first = await reader.readline()
            except OSError:
                pass
            parts = first.split(b" ", 2)
            status = parts[1].decode() if len(parts) > 1 else "closed"
            self.tally.statuses[status] = self.tally.statuses.get(status, 0) + 1
            held = status == "200"
            if held:
                self.tally.streams_open += 1
                self.tally.streams_open_max = max(self.tally.streams_open_max, self.tally.streams_open)
            # A refused one stays connected until the hub's keep-alive timeout closes it, then asks again.
            self._closed(writer, await self._until_eof(reader, first))
            if held:
                self.tally.streams_open -= 1

    def report(self, **extra: Any) -> None:
        t = self.tally
        print(json.dumps({"open": t.open, "opened": t.opened, "closed_by_hub": t.closed_by_hub,
                          "refused_at_accept": t.refused_at_accept, "connect_errors": t.connect_errors,
                          "streams_open": t.streams_open, "streams_open_max": t.streams_open_max,
                          "statuses": t.statuses, "t": time.time(), **extra}), flush=True)


def raise_own_open_files(needed: int) -> int:
    """The attacker's own soft open-files limit, raised to the hard one; fails plainly if that is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise BenchError(f"the benchmark needs {needed} open files but the hard limit is {hard}:"
                         f" raise it (ulimit -Hn, or LimitNOFILE= for a service) and run again")
    wanted = needed if hard == resource.RLIM_INFINITY else hard
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return soft
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted


async def _attack(port: int, tokens: list[str], idle: int, slow: int, streams: int) -> None:
    attacker = Attacker(port, tokens)
    tasks = [asyncio.create_task(attacker.idle()) for _ in range(idle)]
    tasks += [asyncio.create_task(attacker.slow()) for _ in range(slow)]
    tasks += [asyncio.create_task(attacker.stream(i)) for i in range(streams)]
    ready = False
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), stop.set)  # the parent closes stdin (or goes away): stop
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
        if not ready and attacker.tally.opened >= idle + slow + streams:
            ready = True
        attacker.report(ready=ready)
    loop.remove_reader(sys.stdin.fileno())
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    attacker.report(ready=ready, stopped=True)


def attack_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_attack attack")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--idle", type=int, required=True)
    parser.add_argument("--slow", type=int, required=True)
    parser.add_argument("--streams", type=int, required=True)
    args = parser.parse_args(argv)
    tokens = [line.strip() for line in sys.stdin.readline().split(",") if line.strip()]
    try:
        raise_own_open_files(args.idle + args.slow + args.streams + ATTACKER_FD_SPARE)
    except BenchError as error:
        print(json.dumps({"error": str(error)}), flush=True)
        return 1
    asyncio.run(_attack(args.port, tokens, args.idle, args.slow, args.streams))
    return 0


class AttackerProcess:
    """The child process and its JSON-lines reports."""

    def __init__(self, port: int, tokens: list[str], size: AttackSize) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.http_attack", "attack", "--port", str(port), "--idle", str(size.idle),
             "--slow", str(size.slow), "--streams", str(size.streams)],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
        assert self.process.stdin is not None
        self.process.stdin.write(",".join(tokens) + "\n")
        self.process.stdin.flush()
        self.reports: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                item = json.loads(line)
                with self.lock:
                    self.reports.append(item)

    def last(self) -> dict[str, Any]:
        with self.lock:
            if self.reports and "error" in self.reports[-1]:
                raise BenchError(self.reports[-1]["error"])
            return dict(self.reports[-1]) if self.reports else {}

    def stop(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(5)
        return self.last()


# -- bodies ------------------------------------------------------------------------------------------


BOUNDARY = "xiaoanbench"


def _bodies(size_mb: int) -> list[tuple[str, str, str, bool]]:
    """(name, path, content type, chunked) of each body sent."""
    json_route, photo_route = "/api/alerts/1/acknowledge", "/api/alerts/1/photos"
    multipart = f"multipart/form-data; boundary={BOUNDARY}"
    return [(f"{size_mb} MB JSON, declared Content-Length", json_route, "application/json", False),
            (f"{size_mb} MB multipart photo, declared Content-Length", photo_route, multipart, False),
            (f"{size_mb} MB JSON, chunked", json_route, "application/json", True),
            (f"{size_mb} MB multipart photo, chunked", photo_route, multipart, True)]


def send_body(port: int, pid: int, name: str, path: str, content_type: str, chunked: bool, total: int) -> BodyRun:
    """Send ``total`` bytes of body without credentials until the hub answers; the hub's peak RSS meanwhile."""
    if content_type.startswith("multipart"):
        opening = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photo"; filename="x.jpg"\r\n'
                   "Content-Type: image/jpeg\r\n\r\n").encode()
    else:
        opening = b'{"note": "'
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n{length}\r\n\r\n").encode()
    piece = b"a" * 65536
    reset_peak(pid)
    started = time.perf_counter()
    sent = 0
    answer = b""
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.sendall(head)
        first = True
        deadline = time.monotonic() + 120
        ended = not chunked
        while time.monotonic() < deadline and b"\r\n" not in answer:
            readable, writable, _ = select.select([sock], [sock] if sent < total or not ended else [], [], 1.0)
            if readable:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
                continue
            if writable and sent >= total:
                with contextlib.suppress(OSError):
                    sock.sendall(b"0\r\n\r\n")  # the whole body sent: the last chunk
                ended = True
            elif writable:
                data = opening + piece[len(opening):] if first else piece
                data = data[: total - sent]
                first = False
                wire = b"%x\r\n%s\r\n" % (len(data), data) if chunked else data
                try:
                    sock.sendall(wire)
                except (BrokenPipeError, ConnectionResetError):
                    with contextlib.suppress(OSError):
                        answer += sock.recv(65536)
                    break
                sent += len(data)
    seconds = time.perf_counter() - started
    parts = answer.split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return BodyRun(name, status, sent / MB, seconds, proc_status(pid)["VmHWM"] / 1024)


# -- the run -----------------------------------------------------------------------------------------


def _settle(pid: int, seconds: float = 2.0) -> float:
    """The hub's RSS (MB) after ``seconds`` of quiet: the median of a few samples."""
    samples = []
    for _ in range(5):
        time.sleep(seconds / 5)
        samples.append(proc_status(pid)["VmRSS"] / 1024)
    return statistics.median(samples)


def run_attack(root: Path, size: AttackSize, log: Any = None) -> AttackRun:
    """One run: idle figures, the combined attack for ``size.seconds``, recovery, then the bodies."""
    say = log or (lambda _m: None)
    with BrokerEnv(root, 1) as env:
        hub = Hub(env, root / "home", size)
        tokens = hub.tokens(size.accounts)
        hub.start()
        try:
            for _ in range(20):  # warm up: the first answers build caches, imports and the DB connection
                health(hub.port)
            idle_rss = _settle(hub.pid)
            fds_idle = open_fds(hub.pid)
            say(f"hub idle: RSS {idle_rss:.1f} MB, {fds_idle} fds; attacking with {size.idle} idle,"
                f" {size.slow} slow-header, {size.streams} stream connections for {size.seconds:g} s")
            reset_peak(hub.pid)
            cpu_before, attack_started = cpu_seconds(hub.pid), time.monotonic()
            attacker = AttackerProcess(hub.port, tokens, size)
            latencies: list[float] = []
            sent_at: list[float] = []
            statuses: dict[str, int] = {}
            failed = 0
            fds_max = 0
            held: list[int] = []
            ready_at: float | None = None
            ramp_deadline = time.monotonic() + 120
            try:
                while True:
                    now = time.monotonic()
                    report = attacker.last()
                    if report.get("ready") and ready_at is None:
                        ready_at = now
                        say(f"attack in place: {report['open']} connections open")
                    if ready_at is not None and now - ready_at >= size.seconds:
                        break
                    if ready_at is None and now > ramp_deadline:
                        raise BenchError(f"the attacker did not open its connections in 120 s: {report}")
                    status, ms = health(hub.port)
                    statuses[str(status)] = statuses.get(str(status), 0) + 1
                    if status in (200, 503):
                        latencies.append(ms)
                        sent_at.append(round(now - (ready_at if ready_at is not None else now), 3))
                    else:
                        failed += 1
                    with contextlib.suppress(OSError):
                        fds_max = max(fds_max, open_fds(hub.pid))
                    if report.get("ready"):
                        held.append(int(report["open"]))
                    time.sleep(max(0.0, PROBE_EVERY_S - (time.monotonic() - now)))
                attack_peak = proc_status(hub.pid)["VmHWM"] / 1024
                hub_cpu, attack_s = cpu_seconds(hub.pid) - cpu_before, time.monotonic() - attack_started
                attacker_cpu = cpu_seconds(attacker.process.pid)
            finally:
                final = attacker.stop()
            say(f"attack over: health p50 {statistics.median(latencies) if latencies else float('nan'):.1f} ms,"
                f" {failed} unanswered; peak RSS {attack_peak:.1f} MB")
            time.sleep(1.0)
            _, recovered_ms = health(hub.port)
            after_rss = _settle(hub.pid)
            run = AttackRun(
                size=size.__dict__, idle_rss_mb=idle_rss, attack_peak_rss_mb=attack_peak, after_rss_mb=after_rss,
                hub_fds_idle=fds_idle, hub_fds_max=fds_max, health_ms=latencies, health_at=sent_at,
                health_failed=failed,
                health_statuses=statuses, held_max=max(held, default=0),
                held_median=statistics.median(held) if held else 0.0, opened=int(final.get("opened", 0)),
                closed_by_hub=int(final.get("closed_by_hub", 0)),
                refused_at_accept=int(final.get("refused_at_accept", 0)),
                connect_errors=int(final.get("connect_errors", 0)), stream_statuses=dict(final.get("statuses", {})),
                streams_held_max=int(final.get("streams_open_max", 0)), recovered_health_ms=recovered_ms,
                hub_cpu_s=hub_cpu, attack_s=attack_s, attacker_cpu_s=attacker_cpu)
            for name, path, content_type, chunked in _bodies(size.body_mb):
                body = send_body(hub.port, hub.pid, name, path, content_type, chunked, size.body_mb * MB)
                say(f"{name}: {body.status} after {body.sent_mb:.1f} MB in {body.seconds:.2f} s,"
                    f" peak RSS {body.peak_rss_mb:.1f} MB")
                run.bodies.append(body)
            return run
        finally:
            hub.stop()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["attack"]:
        return attack_main(args[1:])
    print("usage: python -m bench --only attack (this module's 'attack' is the benchmark's child process)",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
