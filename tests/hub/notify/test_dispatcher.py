"""Dispatcher policy with an injected clock: grouping, rate limits, fallback, retries — no sleeping.

The channels here are recording stand-ins (the dispatcher is under test, not them);
Apprise and the modem are exercised for real in test_apprise / test_sms.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from edge import wire
from hub.alerts.kinds import Severity
from hub.notify.base import DeliveryResult, Notification
from hub.notify.deliverylog import DeliveryLog
from hub.notify.dispatcher import Dispatcher, DispatchWorker, Route
from hub.notify.local import EdgeBuzzerChannel, WebChannel
from hub.notify.ratelimit import TokenBucket


@dataclass
class Clock:
    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Recorder:
    name: str
    fail: bool = False
    max_chars: int | None = None
    sent: list[Notification] = field(default_factory=list)

    def send(self, notification: Notification) -> DeliveryResult:
        if self.fail:
            return DeliveryResult.failure(f"{self.name} is down")
        self.sent.append(notification)
        return DeliveryResult.success()


@pytest.fixture
def log(tmp_path: Path) -> Iterator[DeliveryLog]:
    delivery_log = DeliveryLog(tmp_path / "notify.sqlite3")
    yield delivery_log
    delivery_log.close()


def note(alert_id: int, key: str = "dev/fridge1", severity: str = "warning", tier: str = "staff",
         title: str | None = None) -> Notification:
    return Notification(alert_id=alert_id, incident_key=key, severity=Severity(severity),
                        title=title or f"alert {alert_id}", body=f"body {alert_id}", tier=tier, created_at=0.0,
                        subject=key)


def test_same_incident_within_the_window_is_one_merged_message(log: DeliveryLog) -> None:
    clock, bot = Clock(), Recorder("bot")
    dispatcher = Dispatcher([Route("staff", fallback=(bot,))], log, group_window_s=120, clock=clock)
    dispatcher.submit(note(1))
    assert dispatcher.pump() == 1  # the first one leaves at once
    clock.now += 10
    dispatcher.submit(note(2))
    clock.now += 10
    dispatcher.submit(note(3))
    assert dispatcher.pump() == 0  # held for the window
    assert dispatcher.next_due() == pytest.approx(clock.now - 20 + 120)
    clock.now += 100
    assert dispatcher.pump() == 1
    assert [n.alert_ids for n in bot.sent] == [(1,), (3, 2)]
    assert "2 条更新已合并" in bot.sent[1].body
    clock.now += 500  # after the window, a new update goes at once
    dispatcher.submit(note(4))
    assert dispatcher.pump() == 1


def test_a_worse_severity_is_not_held_by_the_window(log: DeliveryLog) -> None:
    clock, bot = Clock(), Recorder("bot")
    dispatcher = Dispatcher([Route("staff", fallback=(bot,))], log, group_window_s=300, clock=clock)
    dispatcher.submit(note(1, severity="warning"))
    dispatcher.pump()
    clock.now += 5
    dispatcher.submit(note(2, severity="critical"))
    assert dispatcher.pump() == 1
    assert bot.sent[-1].severity == "critical"


def test_different_incidents_and_tiers_are_not_grouped(log: DeliveryLog) -> None:
    clock, staff, manager = Clock(), Recorder("staff"), Recorder("manager")
    dispatcher = Dispatcher([Route("staff", fallback=(staff,)), Route("manager", fallback=(manager,))], log,
                            clock=clock)
    dispatcher.submit(note(1, key="a"))
    dispatcher.submit(note(2, key="b"))
    dispatcher.submit(note(1, key="a", tier="manager"))
    assert dispatcher.pump() == 3
    assert len(staff.sent) == 2 and len(manager.sent) == 1


def test_rate_limit_is_never_exceeded_and_the_backlog_leaves_as_one_digest(log: DeliveryLog) -> None:
    clock, bot = Clock(), Recorder("wecom")
    bucket = TokenBucket(per_minute=15, burst=5)
    dispatcher = Dispatcher([Route("staff", fallback=(bot,))], log, rate_limits={"wecom": bucket}, clock=clock)
    send_times: list[float] = []
    for minute in range(3):
        for i in range(30):  # an alarm storm: 30 incidents a minute, two seconds apart
            dispatcher.submit(note(minute * 100 + i, key=f"sensor{minute}-{i}", title=f"冷柜{i}"))
            before = len(bot.sent)
            dispatcher.pump()
            send_times += [clock.now] * (len(bot.sent) - before)
            clock.now += 2
    for _ in range(120):  # drain
        before = len(bot.sent)
        dispatcher.pump()
        send_times += [clock.now] * (len(bot.sent) - before)
        clock.now += 2
    for start in send_times:
        assert sum(1 for t in send_times if start <= t < start + 60) <= 20
    assert dispatcher.pending() == 0
    delivered = {i for n in bot.sent for i in n.alert_ids}
    assert delivered == {m * 100 + i for m in range(3) for i in range(30)}  # nothing lost, only merged
    assert any(n.title.endswith("条告警") for n in bot.sent)
    assert any(a.outcome == "deferred" for a in log.attempts())


def test_a_settings_change_in_a_storm_does_not_refill_a_bots_bucket(log: DeliveryLog) -> None:
    """A rota or a route saved on the admin page builds a new dispatcher: the bot's spent rate goes with it."""
    clock, bot = Clock(), Recorder("wecom")

    def dispatcher() -> Dispatcher:
        return Dispatcher([Route("staff", fallback=(bot,))], log, clock=clock,
                          rate_limits={"wecom": TokenBucket(per_minute=15, burst=5)})

    old = dispatcher()
    for i in range(8):  # a storm: eight incidents at once, five go and three wait for the bucket
        old.submit(note(i, key=f"sensor{i}"))
    old.pump()
    assert len(bot.sent) == 5
    new = dispatcher()
    assert old.hand_over(new) == 1  # the three held, already folded into one digest
    new.pump()
    assert len(bot.sent) == 5  # still waiting: the new dispatcher's bucket is the old one's, empty
    clock.now += 4  # a slot opens (15 a minute): the digest leaves
    new.pump()
    assert len(bot.sent) == 6 and bot.sent[-1].title == "3 条告警"
    assert {i for n in bot.sent for i in n.alert_ids} == set(range(8))


def test_rate_wait_longer_than_allowed_skips_to_the_next_channel(log: DeliveryLog) -> None:
    clock, mail, sms = Clock(), Recorder("mail"), Recorder("sms")
    dispatcher = Dispatcher([Route("staff", fallback=(mail, sms))], log,
                            rate_limits={"mail": TokenBucket(per_minute=1 / 60, burst=1)},
                            max_rate_wait_s=120, clock=clock)
    dispatcher.submit(note(1, key="a"))
    dispatcher.submit(note(2, key="b"))
    assert dispatcher.pump() == 2
    assert [n.alert_id for n in mail.sent] == [1]
    assert [n.alert_id for n in sms.sent] == [2]


def test_fallback_and_channel_failure_callbacks(log: DeliveryLog) -> None:
    clock, bot, sms = Clock(), Recorder("bot", fail=True), Recorder("sms")
    failures: list[tuple[str, str]] = []
    recovered: list[str] = []
    dispatcher = Dispatcher([Route("staff", fallback=(bot, sms))], log, clock=clock, group_window_s=0,
                            on_channel_failure=lambda name, error: failures.append((name, error)),
                            on_channel_recovered=recovered.append)
    dispatcher.submit(note(1))
    dispatcher.submit(note(2, key="other"))
    assert dispatcher.pump() == 2
    assert len(sms.sent) == 2
    assert failures == [("bot", "bot is down")]  # once per outage, not per message
    bot.fail = False
    dispatcher.submit(note(3))
    dispatcher.pump()
    assert recovered == ["bot"]
    assert dispatcher.failing_channels() == {}
    attempts = [(a.channel, a.outcome) for a in reversed(log.attempts())]
    assert attempts == [("bot", "failed"), ("sms", "sent"), ("bot", "failed"), ("sms", "sent"), ("bot", "sent")]


def test_all_channels_down_retries_then_gives_up(log: DeliveryLog) -> None:
    clock, bot = Clock(), Recorder("bot", fail=True)
    lost: list[tuple[Notification, str]] = []
    dispatcher = Dispatcher([Route("staff", fallback=(bot,))], log, clock=clock, retry_s=60, give_up_s=300,
                            on_undeliverable=lambda n, error: lost.append((n, error)))
    dispatcher.submit(note(1))
    dispatcher.pump()
    assert dispatcher.next_due() == clock.now + 60
    clock.now += 60
    dispatcher.submit(note(2))  # an update while it waits joins the retry
    dispatcher.pump()
    bot.fail = False
    clock.now += 60
    assert dispatcher.pump() == 1
    assert bot.sent[0].alert_ids == (2, 1)
    bot.fail = True
    dispatcher.submit(note(3, key="k2"))
    for _ in range(7):
        dispatcher.pump()
        clock.now += 60
    assert [n.alert_id for n, _ in lost] == [3]
    assert dispatcher.pending() == 0
    assert log.attempts(alert_id=3)[0].outcome == "abandoned"


def test_always_channels_get_each_message_once_and_buzz_the_device(log: DeliveryLog) -> None:
    clock, bot = Clock(), Recorder("bot", fail=True)
    commands: list[tuple[str, wire.Command]] = []
    web = WebChannel()
    buzzer = EdgeBuzzerChannel("buzzer", lambda device, command: commands.append((device, command)), clock=clock)
    dispatcher = Dispatcher([Route("staff", fallback=(bot,), always=(web, buzzer))], log, clock=clock, retry_s=60)
    dispatcher.submit(note(7, key="kitchen-pi-1/fridge1"))
    dispatcher.pump()
    clock.now += 60
    dispatcher.pump()  # the retry does not buzz again
    assert [(d, c.action) for d, c in commands] == [("kitchen-pi-1", "alarm_on")]
    assert [n.alert_id for n in web.recent()] == [7]


def test_buzzer_publish_failure_is_a_failed_delivery() -> None:
    def broken(_device: str, _command: wire.Command) -> None:
        raise ConnectionError("broker unreachable")

    result = EdgeBuzzerChannel("buzzer", broken).send(note(1, key="dev/s"))
    assert not result.ok and "broker unreachable" in result.error
    assert not EdgeBuzzerChannel("buzzer", broken).send(note(1, key="")).ok


def test_unknown_tier_is_logged_and_reported(log: DeliveryLog) -> None:
    lost: list[str] = []
    dispatcher = Dispatcher([Route("staff", fallback=(Recorder("bot"),))], log, clock=Clock(),
                            on_undeliverable=lambda _n, error: lost.append(error))
    dispatcher.submit(note(1, tier="nobody"))
    assert "nobody" in lost[0]
    assert log.attempts()[0].outcome == "abandoned"


def test_a_raising_channel_counts_as_failed(log: DeliveryLog) -> None:
    class Exploding(Recorder):
        def send(self, notification: Notification) -> DeliveryResult:
            raise RuntimeError("boom")

    backup = Recorder("backup")
    dispatcher = Dispatcher([Route("staff", fallback=(Exploding("x"), backup))], log, clock=Clock())
    dispatcher.submit(note(1))
    assert dispatcher.pump() == 1 and backup.sent


def test_worker_sends_in_the_background(log: DeliveryLog) -> None:
    sent = threading.Event()

    class Signalling(Recorder):
        def send(self, notification: Notification) -> DeliveryResult:
            result = super().send(notification)
            sent.set()
            return result

    bot = Signalling("bot")
    worker = DispatchWorker(Dispatcher([Route("staff", fallback=(bot,))], log), idle_s=5)
    worker.start()
    try:
        worker.submit(note(1))
        assert sent.wait(60)  # generous: the CPU is shared; it is woken by submit, not by idle_s
    finally:
        worker.stop()
    assert [n.alert_id for n in bot.sent] == [1]


def test_token_bucket_refills_and_ignores_a_clock_stepping_back() -> None:
    bucket = TokenBucket(per_minute=60, burst=2)
    assert bucket.take(100.0) and bucket.take(100.0) and not bucket.take(100.0)
    assert bucket.wait(100.0) == pytest.approx(1.0)
    assert not bucket.take(50.0)
    assert bucket.take(101.0)
    assert bucket.max_in_window() == 62
