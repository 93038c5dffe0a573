"""Done when (issue 21): two school hubs, two district workers, a real PostgreSQL and real brokers — every record once.

School A forwards to both district workers; worker 1 is SIGKILLed while A sends and is
started again. School B's link to the district is cut while it stores its readings,
events and alarms, and restored later: its outbox drains. At the end the district
holds every reading, event and alarm lifecycle record of each school exactly once,
and each school's alarms stand at the district as they stand at the school.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest

from edge import wire
from edge.config import BrokerSettings
from edge.link import close_client, make_client
from hub.broker import Account, MosquittoBroker
from hub.district import overview
from hub.district.store import DistrictStore
from hub.district.wire import RecordKind, audit_key
from hub.forward.records import reading_key
from hub.forward.settings import DistrictLink
from hub.runtime import Hub
from hub.settings import HubSettings
from tests.conftest import wait_for
from tests.district.helpers import DistrictProcess, Relay

pytestmark = [pytest.mark.postgres, pytest.mark.broker, pytest.mark.slow]

FRIDGE = (wire.SensorInfo(sensor="t0", kind="temperature", unit="°C", profile="fridge"),
          wire.SensorInfo(sensor="t1", kind="temperature", unit="°C", profile="freezer"))
#: Readings above the fridge's hard limit (15 °C): an alarm at once, resolved when it falls back.
HOT = 21.0


@dataclass
class School:
    site: str
    broker: MosquittoBroker
    hub: Hub
    device: mqtt.Client
    name: str
    boot: str
    seq: int = 0
    telemetry: int = 0

    def send(self, messages: int, hot_at: frozenset[int] = frozenset()) -> list[wire.MessageId]:
        """Telemetry (two sensors) and, every fifth message, a door event; the fridge hot at the given steps."""
        sent: list[wire.MessageId] = []
        for step in range(messages):
            self.seq += 1
            ts = time.time()
            value = HOT if step in hot_at else 4.0
            message: wire.Telemetry | wire.Event = wire.Telemetry(
                device=self.name, boot_id=self.boot, seq=self.seq,
                readings=(wire.Reading(sensor="t0", kind="temperature", value=value, unit="°C", ts=ts),
                          wire.Reading(sensor="t1", kind="temperature", value=-18.0, unit="°C", ts=ts)))
            channel = wire.Channel.TELEMETRY
            if step % 5 != 4:
                self.telemetry += 1
            else:
                message = wire.Event(device=self.name, boot_id=self.boot, seq=self.seq, ts=ts, sensor="door",
                                     kind="door", state="open" if step % 10 == 4 else "closed")
                channel = wire.Channel.EVENT
            self.device.publish(wire.topic(self.site, self.name, channel), wire.encode(message),
                                qos=1).wait_for_publish(10)
            sent.append(message.message_id)
            time.sleep(0.01)  # distinct reading times
        return sent

    def stored(self, ids: list[wire.MessageId]) -> bool:
        return not self.hub.state.unseen(ids)


@contextlib.contextmanager
def school(tmp_path: Path, site: str, link: DistrictLink) -> Iterator[School]:
    hub_account = Account.generate("hub", role="hub")
    name = f"kitchen-{site}"
    device_account = Account.generate(name, site=site)
    with MosquittoBroker(tmp_path / f"broker-{site}", [hub_account, device_account]) as broker:
        settings = HubSettings(home=tmp_path / f"hub-{site}", mqtt_host=broker.host, mqtt_port=broker.hub_port,
                               mqtt_username="hub", mqtt_password=hub_account.password,
                               mqtt_client_id=f"hub-{site}", tick_s=0.2, mqtt_device_port=broker.port,
                               district=link)
        hub = Hub(settings)
        hub.start()
        device = make_client(f"{name}-{time.monotonic_ns()}",
                             BrokerSettings(host=broker.host, port=broker.port, username=name,
                                            password=device_account.password), device_account.password)
        try:
            assert hub.mqtt is not None and hub.mqtt.connected.wait(60)
            device.connect(broker.host, broker.port)
            device.loop_start()
            boot = f"boot-{time.monotonic_ns()}"
            status = wire.Status(state="online", boot_id=boot, version="test", ts=time.time(), sensors=FRIDGE)
            device.publish(wire.topic(site, name, wire.Channel.STATUS), wire.encode(status), qos=1,
                           retain=True).wait_for_publish(10)
            yield School(site, broker, hub, device, name, boot)
        finally:
            close_client(device)
            hub.stop()


def link(site: str, token: str, *urls: str) -> DistrictLink:
    return DistrictLink(enabled=True, site=site, urls=urls, token=token, batch=25, retry_min_s=0.2,
                        retry_max_s=1.0, tick_s=0.2, timeout_s=5.0)


def expected_keys(school: School, since: float) -> dict[RecordKind, set[str]]:
    """Every record the school hub holds (what the district must hold, once each)."""
    readings: set[str] = set()
    for sensor in ("t0", "t1"):
        key = f"{school.name}/{sensor}"
        readings |= {reading_key(key, r.ts) for r in school.hub.series.readings(key, since, time.time() + 60)}
    events = {f"{e.device}/{e.boot_id}/{e.seq}" for e in school.hub.series.events(since, time.time() + 60)}
    entries = {audit_key(e.id) for e in school.hub.state.audit_entries() if e.id is not None}
    return {RecordKind.READING: readings, RecordKind.EVENT: events, RecordKind.AUDIT: entries}


def test_two_schools_two_workers_one_killed_one_school_cut_off_every_record_once(
        tmp_path: Path, district_dsn: str) -> None:
    setup = DistrictStore(district_dsn, "setup")
    token_a, token_b = setup.add_site("school-a", "第一中学"), setup.add_site("school-b", "实验小学")
    one = DistrictProcess(district_dsn, "w1", tmp_path).start()
    two = DistrictProcess(district_dsn, "w2", tmp_path).start()
    wan_b = Relay(two.port)  # school B's WAN link: cut from the start
    since = time.time() - 1
    try:
        with school(tmp_path, "school-a", link("school-a", token_a, one.url, two.url)) as a, \
                school(tmp_path, "school-b", link("school-b", token_b, wan_b.url)) as b:
            sent_a = a.send(30, hot_at=frozenset({3, 4}))
            sent_b = b.send(30, hot_at=frozenset({6}))
            wait_for(lambda: a.stored(sent_a) and b.stored(sent_b), timeout=180)
            # Worker 1 dies (kill -9) while school A is forwarding; A goes on with worker 2.
            one.kill()
            sent_a += a.send(30)
            wait_for(lambda: a.stored(sent_a), timeout=180)
            one.start()
            sent_a += a.send(20, hot_at=frozenset({10}))
            sent_b += b.send(20)
            wait_for(lambda: a.stored(sent_a) and b.stored(sent_b), timeout=180)
            # School B alarms and stores on its own while cut off; the district has nothing of it yet.
            assert b.hub.state.alerts(), "school B's hot fridge raised an alarm at the school"
            # Its cook acknowledges it meanwhile: an audit entry that waits for the link with the rest.
            b.hub.engine.act(b.hub.state.alerts()[0].id or 0, "acknowledge", "cook-b", "已转移食品")
            assert b.hub.district is not None and b.hub.district.outbox.depth() > 0
            assert setup.counts("school-b") == {}
            wan_b.restore()
            for s in (a, b):
                assert s.hub.district is not None
                outbox = s.hub.district.outbox
                wait_for(lambda outbox=outbox: outbox.depth() == 0, timeout=300)  # type: ignore[misc]
            for s in (a, b):
                expected = expected_keys(s, since)
                assert len(expected[RecordKind.READING]) == 2 * s.telemetry  # two sensors a message
                assert len(expected[RecordKind.EVENT]) == s.seq - s.telemetry
                assert expected[RecordKind.AUDIT] or s is a  # B's acknowledgement at least
                for kind, keys in expected.items():
                    found = setup.keys(s.site, kind)
                    assert len(found) == len(set(found)) == len(keys), (s.site, kind)
                    assert set(found) == keys, (s.site, kind)
                # Each alarm stands at the district as at the school, once its queued records are applied.
                at_school = {alert.id: alert.state.value for alert in s.hub.state.alerts()}
                assert at_school
                wait_for(lambda s=s, at_school=at_school: setup.alarm_states(s.site) == at_school,  # type: ignore[misc]
                         timeout=120)
                alarm_keys = setup.keys(s.site, RecordKind.ALARM)
                assert len(alarm_keys) == len(set(alarm_keys)) >= len(at_school)
                assert overview.audit_copy(setup, s.site).intact
            # B's records came in through the relay after the outage.
            assert b.hub.district is not None and b.hub.district.forwarder.counters.failures > 0
            with psycopg.connect(district_dsn) as db:
                spread = db.execute("SELECT site, received_by, count(*) FROM records GROUP BY 1, 2 ORDER BY 1, 2")
                print("records by school and worker:", spread.fetchall())
    finally:
        wan_b.cut()
        one.stop()
        two.stop()
        setup.close()


def test_the_scheduler_moves_to_the_other_worker_when_its_leader_is_killed(tmp_path: Path, district_dsn: str) -> None:
    store = DistrictStore(district_dsn, "observer")
    workers = {name: DistrictProcess(district_dsn, name, tmp_path).start() for name in ("w1", "w2")}
    try:
        wait_for(lambda: store.leader("scheduler") in workers, timeout=120)
        leader = store.leader("scheduler")
        assert leader is not None
        follower = next(name for name in workers if name != leader)
        killed_at = time.monotonic()
        workers[leader].kill()
        wait_for(lambda: store.leader("scheduler") == follower, timeout=120)
        print(f"scheduler moved from {leader} to {follower} in {time.monotonic() - killed_at:.2f} s after kill -9")
        # The killed worker, back, follows: the lock stays with the worker that holds it.
        workers[leader].start()
        time.sleep(1.0)
        assert store.leader("scheduler") == follower
    finally:
        for process in workers.values():
            process.stop()
        store.close()
