"""The district's ingest at 500 schools: 2,500 readings/s from live schools, then one school back after 7 days drains.

Run: ``python -m bench.district_ingest`` (``--schools 500 --sensors 50 --period 10
--tick 1 --live-s 60 --backlog-days 7 --workers 1``). A private PostgreSQL 15 (fsync on) and
``--workers`` district workers as processes (``python -m hub.district serve``). Sender
threads stand for the school hubs: each school posts, once a second, the readings its
sensors took that second (``--sensors`` every ``--period`` s), as its outbox's forwarding
duty does, and every 30 s an alarm record; one batch in 100 is sent twice (a lost
confirmation). A batch that is not confirmed is sent again until it is.

``--tick`` is the school's ``district.tick_s``: at 1 s (the hub's default) 500 schools
make 500 requests a second of 5 readings each; at 10 s, 50 requests of 50.

1. **Live** for ``--live-s``: the rate the district sustains, its CPU seconds per 1,000
   readings (the workers' processes and PostgreSQL's), PostgreSQL rows per second.
2. **Drain**: one more school comes back with ``--backlog-days`` of readings (7 days of
   50 sensors at 10 s: 3,024,000) and sends them as its forwarder does — batches of 500,
   at most 20 a second — while the live schools go on. The drain time, and the live
   schools' confirmation times (their alarms go in those batches) beside the live
   phase's.

3. **A worker killed** (``--kill``, with ``--workers`` 2 or more): halfway through the live
   phase the worker that leads the scheduled duties is SIGKILLed while schools send to it,
   and started again 2 s later. The time until another worker leads (the ``leader`` row
   names it) is printed; the schools' senders move on to the next worker, as the school's
   forwarder does, and send again what was not confirmed.

At the end every school's readings are counted at the district: lost and stored twice
must both be 0. Targets (issue 21): 2,500 readings/s sustained, lost 0, twice 0; the
7-day drain in < 10 min without slowing the live schools; the leader's duties moved
within 5 s of the kill.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from hub.broker import free_port
from hub.district.store import DistrictStore
from hub.district.wire import RECORDS_PATH, SITE_HEADER
from hub.pg.server import PostgresServer

REPO = Path(__file__).resolve().parent.parent
DRAIN_TARGET_S = 600.0
LEADER_MOVE_TARGET_S = 5.0
#: The killed worker is started again this long after the kill.
RESTART_AFTER_S = 2.0
#: The school forwarder's defaults (hub.forward.settings): records a batch, batches a tick of 1 s.
FORWARD_BATCH = 500
FORWARD_BATCHES_PER_TICK = 20
ALARM_EVERY_S = 30


def _reading(site: str, sensor: int, ts: float, value: float) -> str:
    key = f"edge/t{sensor}@{round(ts * 1000)}"
    return (f'{{"kind":"reading","key":"{key}","ts":{ts!r},"body":{{"sensor":"edge/t{sensor}",'
            f'"value":{value},"fault":null,"clock_synced":true}}}}')


def _alarm(alert_id: int, ts: float) -> str:
    return (f'{{"kind":"alarm","key":"{alert_id}/firing/{ts!r}","ts":{ts!r},"body":{{"id":{alert_id},'
            f'"state":"firing","updated_at":{ts!r},"kind":"temperature","fired_at":{ts!r}}}}}')


def _batch(records: list[str]) -> bytes:
    return ('{"records":[' + ",".join(records) + "]}").encode()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def rows_inserted(dsn: str) -> int:
    """Rows PostgreSQL has inserted into the district's tables (every partition, the queue, the alarms)."""
    with psycopg.connect(dsn) as db:
        row = db.execute("SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables").fetchone()
    return int(str(row[0])) if row else 0


def postgres_pids(postmaster: int) -> list[int]:
    """The postmaster and its children (backends, writers): PostgreSQL's CPU is theirs."""
    found = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    found.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
    return found


@dataclass
class Sent:
    """What the senders did: readings confirmed (unique), batches, confirmation times by phase."""

    readings: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    resent: int = 0
    failures: int = 0
    latency_ms: dict[str, list[float]] = field(default_factory=lambda: {"live": [], "drain": []})
    lock: threading.Lock = field(default_factory=threading.Lock)


class District:
    def __init__(self, dsn: str, workers: int, log_dir: Path) -> None:
        self.dsn, self.log_dir = dsn, log_dir
        #: CPU seconds of workers killed (``kill_leader``).
        self.dead_cpu_s = 0.0
        self.processes: list[subprocess.Popen[bytes]] = []
        self.urls = [f"http://127.0.0.1:{free_port()}" for _ in range(workers)]
        for n in range(workers):
            self.processes.append(self._start(n))
        for url in self.urls:
            self._wait_healthy(url)

    def _start(self, n: int) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        port = self.urls[n].rsplit(":", 1)[1]
        with (self.log_dir / f"district-w{n + 1}.log").open("ab") as log:
            return subprocess.Popen([sys.executable, "-m", "hub.district", "--dsn", self.dsn, "serve", "--port", port,
                                     "--worker", f"w{n + 1}"], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)

    def _wait_healthy(self, url: str) -> None:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/district/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"district worker at {url} did not start (see {self.log_dir})")
            time.sleep(0.2)

    def leader(self) -> str | None:
        with psycopg.connect(self.dsn, autocommit=True) as db:
            row = db.execute("SELECT worker FROM leader WHERE role = 'scheduler'").fetchone()
        return None if row is None else str(row[0])

    def kill_leader(self) -> tuple[str, float]:
        """SIGKILL the worker leading the duties, start it again after ``RESTART_AFTER_S``; returns who it was and
        the seconds until another worker led."""
        deadline = time.monotonic() + 30
        while (leader := self.leader()) is None:
            if time.monotonic() > deadline:
                raise RuntimeError("no district worker leads the duties")
            time.sleep(0.2)
        n = int(leader.removeprefix("w")) - 1
        # Its CPU time so far stays in the figures (the process that replaces it counts from 0).
        self.dead_cpu_s += cpu_seconds([self.processes[n].pid])
        killed = time.monotonic()
        self.processes[n].send_signal(signal.SIGKILL)
        self.processes[n].wait(30)
        restarted = False
        while True:
            now = time.monotonic()
            if not restarted and now - killed >= RESTART_AFTER_S:
                self.processes[n], restarted = self._start(n), True
            if self.leader() not in (leader, None):
                moved_s = now - killed
                break
            if now - killed > 60:
                moved_s = float("inf")
                break
            time.sleep(0.05)
        if not restarted:
            time.sleep(max(0.0, killed + RESTART_AFTER_S - time.monotonic()))
            self.processes[n] = self._start(n)
        self._wait_healthy(self.urls[n])
        return leader, moved_s

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def cpu_s(self) -> float:
        """CPU seconds of every worker so far, killed ones included."""
        return cpu_seconds(self.pids()) + self.dead_cpu_s

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(30)


def _post(client: httpx.Client, urls: list[str], site: str, token: str, body: bytes) -> float:
    """Send until confirmed (a failure moves to the next worker, as the school's sender does); returns ms."""
    attempt = 0
    while True:
        url = urls[attempt % len(urls)]
        start = time.perf_counter()
        try:
            answer = client.post(url + RECORDS_PATH, content=body, headers={
                SITE_HEADER: site, "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            if answer.status_code == 200:
                return (time.perf_counter() - start) * 1000
            if answer.status_code in (401, 413, 422):
                raise RuntimeError(f"{site}: the district refused a batch: {answer.status_code} {answer.text[:200]}")
        except httpx.HTTPError:
            pass
        attempt += 1
        time.sleep(min(1.0, 0.05 * attempt))


def live_sender(schools: list[tuple[str, str]], sensors: int, period: int, tick: int, urls: list[str],
                start: float, stop: threading.Event, phase: list[str], sent: Sent) -> None:
    """The school hubs of one thread: each ``tick`` seconds, each school's readings of that tick in one batch."""
    per_second = max(1, sensors // period)
    second = 0
    alarm_id = 0
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            due = start + second + tick
            wait = due - time.time()
            if wait > 0:
                stop.wait(wait)
            for n, (site, token) in enumerate(schools):
                records = []
                for s in range(second, second + tick):
                    first = (s % period) * per_second
                    records += [_reading(site, (first + k) % sensors, start + s + n * 1e-3, 4.0)
                                for k in range(per_second)]
                if (second // tick + n) % max(1, ALARM_EVERY_S // tick) == 0:
                    alarm_id += 1
                    records.append(_alarm(alarm_id, due))
                body = _batch(records)
                ms = _post(client, urls, site, token, body)
                twice = (second // tick * len(schools) + n) % 100 == 0
                if twice:
                    _post(client, urls, site, token, body)  # a lost confirmation: the same batch again
                with sent.lock:
                    sent.readings[site] = sent.readings.get(site, 0) + per_second * tick
                    sent.batches += 1 + twice
                    sent.resent += twice
                    sent.latency_ms[phase[0]].append(ms)
            second += tick


def drain_sender(site: str, token: str, sensors: int, period: int, days: float, urls: list[str],
                 sent: Sent) -> float:
    """One school's backlog of ``days``, sent as its forwarder sends: batches of 500, at most 20 a second."""
    end = time.time() - 3600
    start = end - days * 86_400
    steps = int(days * 86_400 / period)
    readings = (_reading(site, s, start + step * period + s * 0.01, 4.5) for step in range(steps)
                for s in range(sensors))
    began = time.perf_counter()
    with httpx.Client(timeout=60) as client:
        tick = time.perf_counter()
        in_tick = 0
        while True:
            records = [r for _, r in zip(range(FORWARD_BATCH), readings, strict=False)]
            if not records:
                break
            _post(client, urls, site, token, _batch(records))
            with sent.lock:
                sent.readings[site] = sent.readings.get(site, 0) + len(records)
            in_tick += 1
            if in_tick == FORWARD_BATCHES_PER_TICK:
                time.sleep(max(0.0, tick + 1.0 - time.perf_counter()))
                tick, in_tick = time.perf_counter(), 0
    return time.perf_counter() - began


def _percentile(values: list[float], q: float) -> float:
    """Nearest rank: a time some batch really took."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] if ordered else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.district_ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=500)
    parser.add_argument("--sensors", type=int, default=50)
    parser.add_argument("--period", type=int, default=10, help="seconds between a sensor's readings")
    parser.add_argument("--live-s", type=float, default=60.0)
    parser.add_argument("--backlog-days", type=float, default=7.0)
    parser.add_argument("--tick", type=int, default=1,
                        help="seconds between a school's sends (the school's district.tick_s; 1 by default)")
    parser.add_argument("--workers", type=int, default=1, help="district workers (processes)")
    parser.add_argument("--senders", type=int, default=8, help="sender threads for the live schools")
    parser.add_argument("--kill", action="store_true",
                        help="SIGKILL the leading worker halfway through the live phase (needs --workers 2 or more)")
    args = parser.parse_args(argv)
    if args.kill and args.workers < 2:
        parser.error("--kill needs --workers 2 or more")
    killed: list[tuple[str, float]] = []
    live_rate = args.schools * max(1, args.sensors // args.period)
    with PostgresServer() as server:
        dsn = server.create_database("district_ingest")
        setup = DistrictStore(dsn, "setup")
        tokens = {f"school-{n}": setup.add_site(f"school-{n}", f"第{n}学校") for n in range(1, args.schools + 2)}
        setup.close()
        back = f"school-{args.schools + 1}"
        logs = Path(tempfile.mkdtemp(prefix="xiaoan-district-ingest-"))
        district = District(dsn, args.workers, logs)
        sent = Sent()
        phase = ["live"]
        stop = threading.Event()
        live = [(site, token) for site, token in tokens.items() if site != back]
        groups = [live[n::args.senders] for n in range(args.senders)]
        start = time.time() + 1
        assert server.process is not None
        postmaster = server.process.pid
        try:
            threads = [threading.Thread(target=live_sender, args=(group, args.sensors, args.period, args.tick,
                                                                  district.urls, start, stop, phase, sent), daemon=True)
                       for group in groups if group]
            for thread in threads:
                thread.start()
            time.sleep(max(0.0, start - time.time()) + 5)  # past the first seconds (connections, plans)
            with sent.lock:
                readings_0, sent.latency_ms["live"] = sum(sent.readings.values()), []
            cpu_0, pg_0, t_0 = district.cpu_s(), cpu_seconds(postgres_pids(postmaster)), time.time()
            rows_0 = rows_inserted(dsn)
            if args.kill:
                time.sleep(args.live_s / 2)
                killed.append(district.kill_leader())
            time.sleep(max(0.0, t_0 + args.live_s - time.time()))
            with sent.lock:
                readings_1 = sum(sent.readings.values())
            cpu_1, pg_1, t_1 = district.cpu_s(), cpu_seconds(postgres_pids(postmaster)), time.time()
            rows_1 = rows_inserted(dsn)
            phase[0] = "drain"
            drain_s = drain_sender(back, tokens[back], args.sensors, args.period, args.backlog_days, district.urls,
                                   sent)
            stop.set()
            for thread in threads:
                thread.join(60)
        finally:
            stop.set()
            district.stop()
        with psycopg.connect(dsn) as db:
            stored = {str(site): int(str(n)) for site, n in db.execute(
                "SELECT site, count(*) FROM records WHERE kind = 'reading' GROUP BY site").fetchall()}
    rate = (readings_1 - readings_0) / (t_1 - t_0)
    per_thousand = (cpu_1 - cpu_0) / max(1, readings_1 - readings_0) * 1000
    pg_per_thousand = (pg_1 - pg_0) / max(1, readings_1 - readings_0) * 1000
    lost = sum(max(0, n - stored.get(site, 0)) for site, n in sent.readings.items())
    twice = sum(max(0, n - sent.readings.get(site, 0)) for site, n in stored.items())
    backlog = sent.readings.get(back, 0)
    print(f"{args.schools} live schools x {args.sensors} sensors every {args.period} s ({live_rate:,} readings/s"
          f" wanted), each sending every {args.tick} s; {args.workers} district worker(s); one school back with"
          f" {args.backlog_days:g} days"
          f" ({backlog:,} readings)")
    verdicts = [rate >= 0.98 * live_rate, lost == 0, twice == 0, drain_s < DRAIN_TARGET_S,
                all(moved_s < LEADER_MOVE_TARGET_S for _, moved_s in killed)]
    print(f"  live: {rate:,.0f} readings/s sustained over {t_1 - t_0:.0f} s"
          f" ({'pass' if verdicts[0] else 'FAIL'}); {sent.batches:,} batches, {sent.resent:,} sent twice")
    print(f"  CPU per 1,000 readings: district worker(s) {per_thousand:.3f} s, PostgreSQL {pg_per_thousand:.3f} s;"
          f" PostgreSQL rows inserted/s: {(rows_1 - rows_0) / (t_1 - t_0):,.0f} (statistics, flushed each second)")
    for name, values in sent.latency_ms.items():
        if values:
            print(f"  confirmation of a live school's batch ({name}): p50 {statistics.median(values):.1f} ms,"
                  f" p99 {_percentile(values, 99):.1f} ms, max {max(values):.1f} ms ({len(values):,} batches)")
    print(f"  drain: {backlog:,} readings in {drain_s:.1f} s ({backlog / max(drain_s, 1e-9):,.0f}/s)"
          f" (< {DRAIN_TARGET_S:.0f} s: {'pass' if verdicts[3] else 'FAIL'})")
    for leader, moved_s in killed:
        print(f"  leader {leader} SIGKILLed while schools sent, started again after {RESTART_AFTER_S:g} s: another"
              f" worker led after {moved_s:.1f} s (< {LEADER_MOVE_TARGET_S:g} s: {'pass' if verdicts[4] else 'FAIL'})")
    print(f"  lost {lost}, stored twice {twice} ({'pass' if verdicts[1] and verdicts[2] else 'FAIL'})")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
