"""Live events: every page gets them, a page that stops reading is dropped, ingest never waits."""

from __future__ import annotations

import asyncio
import time

from hub.alerts.kinds import AlertKind, AlertState, RuleKind, Severity
from hub.rules.threshold import Limits
from hub.store.base import StoredEvent, StoredReading
from hub.store.state import Alert
from hub.web.broadcast import Broadcaster, LiveEvent, async_wake
from hub.web.live import LiveFeed


def test_every_subscriber_gets_every_event() -> None:
    broadcaster = Broadcaster()
    a, b = broadcaster.subscribe(), broadcaster.subscribe()
    broadcaster.publish("alert", {"id": 1})
    broadcaster.publish("alert", {"id": 2})
    assert [e.data["id"] for e in a.drain()] == [1, 2]
    assert [e.data["id"] for e in b.drain()] == [1, 2]
    assert a.drain() == []


def test_a_slow_page_is_dropped_and_the_others_keep_going() -> None:
    broadcaster = Broadcaster(maxsize=10)
    slow, fast = broadcaster.subscribe(), broadcaster.subscribe()
    received = 0
    started = time.monotonic()
    for i in range(10_000):
        broadcaster.publish("reading", {"i": i})
        received += len(fast.drain())
    assert time.monotonic() - started < 5  # never waited for the slow page
    assert received == 10_000
    assert slow.dropped and len(slow) == 0
    assert broadcaster.subscribers == 1 and broadcaster.dropped_total == 1
    assert slow.offer(LiveEvent("alert", {})) is False


def test_event_wire_format() -> None:
    encoded = LiveEvent("alert", {"message": "1号冷藏柜 温度 12 °C"}, 7).encode().decode()
    assert encoded == 'id: 7\nevent: alert\ndata: {"message":"1号冷藏柜 温度 12 °C"}\n\n'


def test_wake_from_another_thread_reaches_the_loop() -> None:
    async def scenario() -> list[int]:
        ready = asyncio.Event()
        broadcaster = Broadcaster()
        subscription = broadcaster.subscribe(async_wake(asyncio.get_running_loop(), ready))
        await asyncio.to_thread(broadcaster.publish, "alert", {"id": 5})
        await asyncio.wait_for(ready.wait(), 30)  # generous: the machine may be loaded
        return [e.data["id"] for e in subscription.drain()]

    assert asyncio.run(scenario()) == [5]


def test_feed_coalesces_readings_per_sensor_and_throttles() -> None:
    broadcaster = Broadcaster()
    page = broadcaster.subscribe()
    limits = {"d/fridge": Limits(low=0, high=8)}
    feed = LiveFeed(broadcaster, limits.get, reading_interval_s=1.0)
    feed.on_readings([StoredReading("d/fridge", 10.0, 4.0), StoredReading("d/fridge", 12.0, 9.5),
                      StoredReading("d/fridge", 11.0, 5.0), StoredReading("d/probe", 10.0, None, "disconnected")])
    feed.tick(100.0)
    events = {e.data["sensor"]: e.data for e in page.drain()}
    assert events["d/fridge"]["value"] == 9.5 and events["d/fridge"]["state"] == "high"
    assert events["d/probe"]["state"] == "fault"
    feed.on_readings([StoredReading("d/fridge", 13.0, 4.0)])
    feed.tick(100.5)
    assert page.drain() == []  # within the interval: held back
    feed.tick(101.0)
    assert [e.data["state"] for e in page.drain()] == ["ok"]


def test_feed_passes_alerts_and_doors() -> None:
    broadcaster = Broadcaster()
    page = broadcaster.subscribe()
    feed = LiveFeed(broadcaster, lambda _key: None)
    feed.on_alert(Alert(rule=RuleKind.TEMPERATURE_LIMITS, subject="d/fridge", kind=AlertKind.TEMPERATURE,
                        severity=Severity.CRITICAL, state=AlertState.FIRING,
                        message="warm", started_at=1.0, updated_at=1.0, id=3))
    feed.on_events([StoredEvent("d", "b", 1, 2.0, "d/gate", "gate", "open"),
                    StoredEvent("d", "b", 2, 2.0, "d/tag", "patrol", "read")])
    feed.on_samples_changed(4)
    assert [(e.kind, e.data.get("id") or e.data.get("sensor") or e.data.get("record")) for e in page.drain()] == [
        ("alert", 3), ("door", "d/gate"), ("samples", 4)]
