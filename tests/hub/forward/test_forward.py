"""The school side of the district link: the outbox keeps every record until the district confirms it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

from edge import wire
from hub.alerts.kinds import AlertKind, AlertState, RuleKind, Severity
from hub.district.wire import BatchStored, ForwardBatch, ForwardedRecord, RecordKind
from hub.forward.component import OUTBOX_FILE, DistrictForward
from hub.forward.outbox import ForwardOutbox
from hub.forward.records import reading_key
from hub.forward.sender import Forwarder, HttpTransport, Refused, SendFailed
from hub.forward.settings import DistrictLink
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from hub.store.state import Alert
from tests.clock import Clock, local
from tests.district.helpers import ROOT
from tests.hub import test_restamp as restamped

SITE = "school-x"


class District:
    """The network seam: answers like the district (duplicates counted by key) or fails while ``down``."""

    def __init__(self) -> None:
        self.down = False
        self.held: set[tuple[str, str]] = set()
        self.sends = 0
        self.refuses: set[str] = set()

    def send(self, batch: ForwardBatch) -> BatchStored:
        self.sends += 1
        if self.down:
            raise SendFailed("connection refused")
        if any(r.key in self.refuses for r in batch.records):
            raise Refused("HTTP 422 body: holds NaN")
        new = {(r.kind.value, r.key) for r in batch.records} - self.held
        self.held |= new
        return BatchStored(stored=len(new), duplicates=len(batch.records) - len(new))

    def close(self) -> None:
        pass


def record(n: int) -> ForwardedRecord:
    return ForwardedRecord(kind=RecordKind.READING, key=f"k/t@{n}", ts=float(n), body={"value": 4.0})


def test_records_wait_through_an_outage_with_backoff_and_go_once_confirmed(tmp_path: Path) -> None:
    clock = Clock(local("2026-03-02 08:00"))
    outbox = ForwardOutbox(tmp_path / OUTBOX_FILE)
    district = District()
    forwarder = Forwarder(outbox, district, batch=10, retry_min_s=1.0, retry_max_s=8.0, clock=clock)
    outbox.put([record(n) for n in range(25)])
    district.down = True
    waits = []
    for _ in range(6):
        sends = district.sends
        forwarder.tick(clock())
        assert district.sends == sends + 1
        forwarder.tick(clock())  # within the wait: not tried again
        assert district.sends == sends + 1
        wait = forwarder._not_before - clock()
        waits.append(wait)
        clock.now += wait
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert outbox.depth() == 25
    district.down = False
    forwarder.tick(clock())
    assert outbox.depth() == 0
    assert district.held == {("reading", f"k/t@{n}") for n in range(25)}
    assert forwarder.counters.sent_records == 25 and forwarder.counters.duplicates == 0
    # The first success resets the wait: a new failure waits the shortest time again.
    outbox.put([record(99)])
    district.down = True
    forwarder.tick(clock())
    assert forwarder._not_before - clock() == 1.0
    outbox.close()


def test_a_record_the_district_refuses_is_set_aside_and_the_others_go_on(tmp_path: Path) -> None:
    clock = Clock(local("2026-03-02 08:00"))
    outbox = ForwardOutbox(tmp_path / OUTBOX_FILE)
    district = District()
    district.refuses = {"k/t@13"}
    forwarder = Forwarder(outbox, district, batch=16, retry_min_s=1.0, retry_max_s=8.0, clock=clock)
    outbox.put([record(n) for n in range(40)])
    while outbox.depth():
        forwarder.tick(clock())
    assert district.held == {("reading", f"k/t@{n}") for n in range(40) if n != 13}
    assert outbox.parked() == [("reading", "k/t@13", "HTTP 422 body: holds NaN")]
    assert forwarder.counters.parked == 1 and forwarder.counters.failures == 0
    assert forwarder._limit == 16, "back to whole batches once past the refused record"
    outbox.close()


def test_a_record_put_twice_waits_once_and_the_outbox_outlives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / OUTBOX_FILE
    outbox = ForwardOutbox(path)
    outbox.put([record(1), record(2), record(1)])
    outbox.put([record(2)])
    outbox.close()
    again = ForwardOutbox(path)
    assert [w.record for w in again.head(10)] == [record(1), record(2)]
    again.close()


def test_the_district_link_is_off_by_default_and_complete_when_on(tmp_path: Path) -> None:
    hub = Hub(HubSettings(home=tmp_path / "hub"), connect_mqtt=False)
    try:
        assert hub.district is None
        assert not (hub.settings.db_dir / OUTBOX_FILE).exists()
    finally:
        hub.stop()
    for missing, field in (({"site": ""}, "district.site"), ({"urls": ()}, "district.urls"),
                           ({"urls": ("ftp://x",)}, "district.urls"), ({"token": None}, "district.token")):
        given = {"enabled": True, "site": SITE, "urls": ("https://district.example",), "token": "t", **missing}
        with pytest.raises(ValidationError, match=field):
            DistrictLink.model_validate(given)


def test_a_single_school_hub_never_loads_postgresql() -> None:
    code = "import sys, hub.app, hub.cli, hub.runtime; print(sorted(m for m in sys.modules if 'psycopg' in m))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert found.stdout.strip() == "[]"


def telemetry(seq: int, at: float) -> Inbound:
    message = wire.Telemetry(device="dev-x", boot_id="b1", seq=seq, readings=(
        wire.Reading(sensor="t0", kind="temperature", value=4.0, unit="°C", ts=at),))
    return Inbound(wire.topic(SITE, "dev-x", wire.Channel.TELEMETRY), wire.encode(message), seq, 1, time.time())


def test_an_outbox_that_cannot_write_fails_the_batch_so_the_edge_resends_it(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the hub commits a message as seen, its records are in the outbox: else a resend would be a duplicate."""
    link = DistrictLink(enabled=True, site=SITE, urls=("http://127.0.0.1:9",), token="t")
    hub = Hub(HubSettings(home=tmp_path / "hub", district=link), connect_mqtt=False)
    try:
        assert isinstance(hub.district, DistrictForward)
        outbox = hub.district.outbox
        now = time.time()
        real_put = outbox.put

        def refused(*_records: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(outbox, "put", refused)
        with pytest.raises(OSError):
            hub.pipeline.process([telemetry(1, now)])
        assert hub.state.unseen([wire.MessageId("dev-x", "b1", 1)]), "not committed as seen: the edge resends it"
        monkeypatch.setattr(outbox, "put", real_put)
        hub.pipeline.process([telemetry(1, now)])  # the resend
        assert [w.record.key for w in outbox.head(10)] == [f"dev-x/t0@{round(now * 1000)}"]
    finally:
        hub.stop()


def test_readings_taken_before_the_clock_synced_are_forwarded_at_their_true_time(tmp_path: Path) -> None:
    """They are held out of the ingest's write and stored when re-stamped: that write puts them in the outbox."""
    link = DistrictLink(enabled=True, site=SITE, urls=("http://127.0.0.1:9",), token="t")
    hub = Hub(HubSettings(home=tmp_path / "hub", district=link), connect_mqtt=False)
    try:
        assert hub.district is not None
        restamped.run_scenario(hub.pipeline, hub.series, hub.state)
        stored = hub.series.readings(restamped.KEY, 0, 4e9)
        waiting = [w.record for w in hub.district.outbox.head(1000) if w.record.kind is RecordKind.READING]
        assert {r.key for r in waiting} == {reading_key(restamped.KEY, r.ts) for r in stored}
        assert all(r.ts > 1e9 for r in waiting), "a 1970 time was forwarded"
    finally:
        hub.stop()


def test_an_edge_event_too_large_for_the_district_is_parked_and_the_school_still_stores_and_alarms(
        tmp_path: Path) -> None:
    """The edge may send 64 × 4,096 characters of detail, the district takes 16,384: that must not stop the ingest.

    Found as the whole school's ingest retrying one batch for ever: no readings stored, no alarms.
    """
    link = DistrictLink(enabled=True, site=SITE, urls=("http://127.0.0.1:9",), token="t")
    hub = Hub(HubSettings(home=tmp_path / "hub", district=link, rules=HubConfig(alarm_delay_s=60)),
              connect_mqtt=False)
    try:
        assert hub.district is not None
        now = time.time()
        status = wire.Status(state="online", boot_id="b1", ts=now, sensors=(
            wire.SensorInfo(sensor="t0", kind="temperature", unit="°C", profile="fridge"),))
        hub.pipeline.process([Inbound(wire.topic(SITE, "dev-x", wire.Channel.STATUS), wire.encode(status), 1, 1,
                                      now)])
        # 64 keys of nearly 4,096 characters: as large as an event gets within the payload's bound (256 KiB).
        detail: dict[str, wire.ScalarValue] = {f"k{n:02d}": "x" * (wire.MAX_DETAIL_TEXT - 64) for n in range(64)}
        event = wire.Event(device="dev-x", boot_id="b1", seq=2, ts=now, sensor="door-1", kind="door", state="open",
                           detail=detail)
        warm = wire.Telemetry(device="dev-x", boot_id="b1", seq=3, readings=(
            wire.Reading(sensor="t0", kind="temperature", value=9.5, unit="°C", ts=now),))
        hub.pipeline.process([Inbound(wire.topic(SITE, "dev-x", wire.Channel.EVENT), wire.encode(event), 2, 1, now),
                              Inbound(wire.topic(SITE, "dev-x", wire.Channel.TELEMETRY), wire.encode(warm), 3, 1,
                                      now)])
        assert hub.pipeline.counters.snapshot()["store_failures"] == 0
        assert not hub.state.unseen([wire.MessageId("dev-x", "b1", 2), wire.MessageId("dev-x", "b1", 3)])
        (stored,) = hub.series.events(now - 1, now + 1)
        assert json.loads(stored.detail) == detail
        assert [r.value for r in hub.series.readings("dev-x/t0", now - 1, now + 1)] == [9.5]
        hub.engine.tick(now + 61)
        assert [a.state for a in hub.state.alerts()] == ["firing"]
        # The event is parked with the reason, counted; the reading and the alarm wait for the district as usual.
        ((kind, key, reason),) = hub.district.outbox.parked()
        assert (kind, key) == ("event", "dev-x/b1/2") and "body" in reason and "16384" in reason
        assert hub.district.forwarder.counters.parked == 1
        hub.district.forward_logs()  # the alarm's change, read on from the hub's log of them
        waiting = {w.record.kind for w in hub.district.outbox.head(100)}
        assert {RecordKind.READING, RecordKind.ALARM} <= waiting and RecordKind.EVENT not in waiting
    finally:
        hub.stop()


class _HtmlPage(BaseHTTPRequestHandler):
    """A proxy's login page, answered with 200 to every POST."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        page = b"<html><body>please sign in to the network</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *_args: object) -> None:
        pass


def test_a_200_that_is_not_a_confirmation_backs_off_and_keeps_the_records(tmp_path: Path) -> None:
    """Found as a ValidationError raised out of the duty: no backoff, no ``last_error``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    clock = Clock(local("2026-03-02 08:00"))
    outbox = ForwardOutbox(tmp_path / OUTBOX_FILE)
    transport = HttpTransport((f"http://127.0.0.1:{server.server_address[1]}",), SITE, "t", 5.0)
    forwarder = Forwarder(outbox, transport, batch=10, retry_min_s=1.0, retry_max_s=8.0, clock=clock)
    try:
        outbox.put([record(n) for n in range(3)])
        waits = []
        for _ in range(3):
            forwarder.tick(clock())
            waits.append(forwarder._not_before - clock())
            clock.now += waits[-1]
        assert waits == [1.0, 2.0, 4.0]
        assert forwarder.counters.failures == 3
        assert forwarder.counters.last_error is not None and "not a confirmation" in forwarder.counters.last_error
        assert outbox.depth() == 3 and forwarder.counters.sent_records == 0
    finally:
        transport.close()
        outbox.close()
        server.shutdown()
        server.server_close()


class _Refusing(BaseHTTPRequestHandler):
    """A district worker that no longer takes this school's token (revoked), until ``accept`` is set."""

    accept = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not _Refusing.accept:
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        count = len(json.loads(body)["records"])
        answer = json.dumps({"stored": count, "duplicates": 0}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_args: object) -> None:
        pass


def _link_alarms(hub: Hub) -> list[str]:
    return [a.state.value for a in hub.state.alerts(subject="district")]


def test_a_refused_token_is_a_warning_at_once_and_clears_when_the_district_takes_it_again(tmp_path: Path) -> None:
    """A revoked or mistyped token never mends itself: before, it was retried with backoff for ever, silently."""
    _Refusing.accept = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    link = DistrictLink(enabled=True, site=SITE, urls=(f"http://127.0.0.1:{server.server_address[1]}",), token="t")
    hub = Hub(HubSettings(home=tmp_path / "hub", district=link), connect_mqtt=False)
    try:
        assert hub.district is not None
        hub.district.outbox.put([record(n) for n in range(3)])
        now = time.time()
        hub.district.tick(now)
        assert _link_alarms(hub) == ["firing"]
        (alert,) = hub.state.alerts(subject="district")
        assert "区县平台拒绝本校令牌" in alert.message and "3 条记录在本地待发" in alert.message
        assert alert.kind.value == "hub" and alert.severity.value == "warning"
        _Refusing.accept = True
        hub.district.tick(now + 600)  # past the backoff
        assert _link_alarms(hub) == ["resolved"]
        # The readings went; what waits is the link's own alarm, resolved, for the district's record of the outage.
        hub.district.forward_logs()  # the link alarm's change: it goes at the next tick
        waiting = {w.record.kind for w in hub.district.outbox.head(100)}
        assert RecordKind.ALARM in waiting and RecordKind.READING not in waiting
    finally:
        hub.stop()
        server.shutdown()
        server.server_close()


def test_a_link_down_for_hours_is_a_warning_after_alarm_after_s_and_not_before(tmp_path: Path) -> None:
    link = DistrictLink(enabled=True, site=SITE, urls=("http://127.0.0.1:9",), token="t", alarm_after_s=6 * 3600)
    hub = Hub(HubSettings(home=tmp_path / "hub", district=link), connect_mqtt=False)
    try:
        assert hub.district is not None
        hub.district.outbox.put([record(1)])
        now = time.time()
        hub.district.tick(now)  # connection refused: the wait begins
        hub.district.tick(now + 5 * 3600)
        assert _link_alarms(hub) == [], "an outage of a few hours is no alarm: the school works on"
        hub.district.tick(now + 6 * 3600 + 60)
        (alert,) = hub.state.alerts(subject="district")
        assert alert.state.value == "firing" and "小时未能上报" in alert.message
        district = District()
        hub.district.forwarder.transport = district  # the WAN is back
        hub.district.tick(now + 7 * 3600)
        assert ("reading", "k/t@1") in district.held and _link_alarms(hub) == ["resolved"]
    finally:
        hub.stop()


def test_an_alarm_change_reaches_the_outbox_from_the_save_itself_not_from_a_listener(tmp_path: Path) -> None:
    """Before, the link heard of alarm changes from a listener the engine called after the save: a hub killed in
    between never forwarded that change. Now the save logs it in its own transaction and the link reads the log."""
    home = tmp_path / "hub"
    hub = Hub(HubSettings(home=home), connect_mqtt=False)  # no district link yet: nobody listens
    try:
        alert = Alert(rule=RuleKind.TEMPERATURE_LIMITS, subject="dev-x/t0", kind=AlertKind.TEMPERATURE,
                      severity=Severity.CRITICAL, state=AlertState.FIRING, message="1号冷藏柜 11.5 °C",
                      started_at=1_800_000_000.0, updated_at=1_800_000_000.0, fired_at=1_800_000_000.0)
        hub.state.save_alert(alert)
        alert.notify_count, alert.notified_tier = 1, 0
        hub.state.save_alert(alert)  # a notification counted: not a change of the alarm
        alert.state, alert.acked_by, alert.acked_at, alert.updated_at = (AlertState.ACKNOWLEDGED, "wang",
                                                                         1_800_000_060.0, 1_800_000_060.0)
        hub.state.save_alert(alert, "wang", "acknowledge")
        assert [s["state"] for _, s in hub.state.alert_changes()] == ["firing", "acknowledged"]
    finally:
        hub.stop()

    district = District()
    link = DistrictLink(enabled=True, site=SITE, urls=("http://127.0.0.1:9",), token="t", audit=False)
    hub = Hub(HubSettings(home=home, district=link), connect_mqtt=False)
    try:
        assert hub.district is not None
        hub.district.forwarder.transport = district
        hub.district.tick(time.time())
        assert district.held == {("alarm", "1/firing/1800000000.0"), ("alarm", "1/acknowledged/1800000060.0")}
        hub.district.tick(time.time() + 1)
        assert district.sends == 1  # read once: the cursor moved with the records
    finally:
        hub.stop()
