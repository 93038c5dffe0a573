"""Alarms first: door events while 100 edges drain a day's backlog at once (issue 22, item 1).

Each simulated edge is a C publisher sending its backlog on the backfill lane
(``…/backfill/telemetry``) as fast as the broker acknowledges, or paced (``rate_per_edge``),
as edge.agent does after an outage; meanwhile a probe device publishes door events on the
live lane and the figure is door event published → notification at the channel (the same
path and endpoint as the alarm-latency bench). The drain time is the first publish to the
hub's report that it stored the whole backlog; run without probes it is the baseline the
drain under live load is compared with.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import (
    PROBE_DEVICE,
    SITE,
    BenchError,
    BrokerEnv,
    CLoad,
    HubWorker,
    device_name,
    recent_base,
    sensor_infos,
    telemetry_payloads,
    workers,
)
from bench.scenarios import ChannelEndpoint, _wait_alert, alarm_configs, percentile
from edge import wire
from edge.link import close_client

#: A day at the field's rate: one telemetry message (of all the node's probes) every 10 s.
DAY_MESSAGES = 8_640


@dataclass
class DrainRun:
    edges: int
    backlog: int
    per_message: int
    #: Messages/s each edge offers (0: as fast as the broker acknowledges).
    rate_per_edge: float
    drain_s: float = 0.0
    #: Door event published → notification at the channel, for the probes sent during the drain.
    door_ms: list[float] = field(default_factory=list)
    probes: int = 0
    missed: int = 0
    backfill_received: int = 0

    @property
    def total(self) -> int:
        return self.edges * self.backlog

    @property
    def drain_rate(self) -> float:
        return self.total / self.drain_s if self.drain_s else 0.0

    @property
    def p99_ms(self) -> float:
        return percentile(self.door_ms, 99)

    @property
    def max_ms(self) -> float:
        return max(self.door_ms) if self.door_ms else float("nan")


def run_drain(binary: Path, root: Path, edges: int, backlog: int, per_message: int, probe: bool,
              rate_per_edge: float = 0.0, probe_interval_s: float = 0.1, timeout_s: float = 1800.0) -> DrainRun:
    """One drain of ``edges`` × ``backlog`` messages; with ``probe``, door events every ``probe_interval_s``."""
    names = [device_name(i) for i in range(edges)]
    run = DrainRun(edges, backlog, per_message, rate_per_edge)
    endpoint = ChannelEndpoint()
    base = recent_base() - 86_400
    try:
        with BrokerEnv(root, edges) as env:
            load = CLoad(binary, env, root)
            files = {d: load.write(d, telemetry_payloads(d, backlog, per_message, boot_id="backlog", base_ts=base))
                     for d in names}
            worker = HubWorker(env, root / "hub", "bench-hub", extra_env=alarm_configs(root, endpoint.port))
            with workers(worker.start()):
                env.announce(names, sensor_infos(per_message))
                env.announce([PROBE_DEVICE], sensor_infos(10, "p"))
                if worker.wait_for(lambda c: c["received"] >= edges + 1, START_WAIT_S) is None:
                    raise BenchError("the hub did not receive the devices' status messages")
                before = int(worker.snapshot()[0].get("backfill_received", 0))
                done = threading.Event()
                t0 = time.time()
                load.start(files, rate_per_device=rate_per_edge, lane=wire.Lane.BACKFILL)
                try:
                    if probe:
                        _probe_while_draining(env, worker, endpoint, run, done, before, probe_interval_s)
                    finished = _wait_drained(worker, before, run.total, timeout_s)
                finally:
                    load.kill()
                if finished is None:
                    drained = _drained(worker.snapshot()[0], before)
                    raise BenchError(f"the hub stored {drained:,} of the {run.total:,} backlog messages and then"
                                     f" nothing for {STALL_S:g} s (a publisher the broker dropped loses what it had"
                                     f" in flight: see {env.broker.log_path})")
                run.drain_s = finished - t0
                run.backfill_received = int(worker.snapshot()[0].get("backfill_received", 0))
    finally:
        endpoint.close()
    return run


#: No backlog message committed for this long: the drain is stuck (the run fails instead of waiting on).
STALL_S = 60.0
#: How long the hub may take to hear the devices' status messages after its start: generous, as a loaded
#: machine (a test suite beside the bench's smoke test) is slow to start Python.
START_WAIT_S = 180.0
#: How long a door event's alarm and notification are waited for before the probe counts as missed. A late one
#: is measured (its time is in ``door_ms``, judged by the p99 and max targets); only one that never comes is
#: missed. With 5 s, one slow second on a loaded machine counted as a lost alarm.
PROBE_WAIT_S = 60.0


def _wait_drained(worker: HubWorker, before: int, total: int, timeout_s: float) -> float | None:
    """The worker's time when the whole backlog was committed; None when it stalled or timed out."""
    deadline = time.monotonic() + timeout_s
    last, moved = -1, time.monotonic()
    while time.monotonic() < deadline:
        at = worker.wait_for(lambda c: _drained(c, before) >= total, 1.0)
        if at is not None:
            return at
        drained = _drained(worker.snapshot()[0], before)
        if drained != last:
            last, moved = drained, time.monotonic()
        elif time.monotonic() - moved > STALL_S:
            return None
    return None


def _drained(counters: dict[str, object], before: int) -> int:
    """Backlog messages the hub has committed (the live doors are counted apart: they are not the drain)."""
    value = counters.get("backfill_received", 0)
    return (int(value) if isinstance(value, int | float) else 0) - before


def _probe_while_draining(env: BrokerEnv, worker: HubWorker, endpoint: ChannelEndpoint, run: DrainRun,
                          done: threading.Event, before: int, interval_s: float) -> None:
    """Door open/closed pairs on the live lane until the hub has stored the whole backlog."""
    probe = env.client(PROBE_DEVICE, "bench-drain-probe")
    topic = wire.topic(SITE, PROBE_DEVICE, wire.Channel.EVENT)
    try:
        i = 0
        while _drained(worker.snapshot()[0], before) < run.total:
            slot = time.monotonic() + interval_s
            sensor = f"p{i % 10}"
            subject = f"{PROBE_DEVICE}/{sensor}"
            for seq, state in ((2 * i, "open"), (2 * i + 1, "closed")):
                with worker.lock:
                    mark = len(worker.alerts)
                event = wire.Event(device=PROBE_DEVICE, boot_id="drain-probe", seq=seq, ts=time.time(),
                                   sensor=sensor, kind="door", state=state)
                t_pub = time.time()
                probe.publish(topic, wire.encode(event), qos=1)
                fired = _wait_alert(worker, mark, subject, "firing" if state == "open" else "resolved", PROBE_WAIT_S)
                if state != "open":
                    continue
                run.probes += 1
                sent = endpoint.first_after(t_pub, subject, PROBE_WAIT_S)
                if fired is None or sent is None:
                    run.missed += 1
                    continue
                run.door_ms.append((sent - t_pub) * 1000)
            i += 1
            time.sleep(max(0.0, slot - time.monotonic()))
    finally:
        done.set()
        close_client(probe)
