"""The health verdict: 503 exactly when the hub cannot store or cannot alarm; the rest is ``degraded``."""

from __future__ import annotations

import errno
import sqlite3
from typing import Any

from hub.health import ALERT_TIMERS, STALL_FLOOR_S, DeadLetterPart, HealthPublic, assess
from hub.scheduler import DutyStatus
from hub.store.base import SeriesUnreachable
from hub.store.influx_http import InfluxError, InfluxUnreachable
from hub.store_outage import Episode, cannot_write_message, write_refusal

NOW = 10_000.0


def duty(name: str = ALERT_TIMERS, interval_s: float = 1.0, last_ok: float | None = NOW - 0.5,
         **changes: Any) -> DutyStatus:
    fields: dict[str, Any] = {"name": name, "interval_s": interval_s, "last_run": last_ok,
                              "last_duration_s": 0.001, "last_ok": last_ok, "runs": 10, "failures": 0,
                              "consecutive_failures": 0, "overruns": 0, "running_for_s": None}
    return DutyStatus(**{**fields, **changes})


def verdict(**changes: Any) -> tuple[HealthPublic, bool]:
    arguments: dict[str, Any] = {
        "now": NOW, "uptime_s": 100.0, "counters": {"failing_batches": 0, "store_failures": 0,
                                                    "last_commit": NOW - 1, "last_failure": None},
        "mqtt_connected": True, "duties": [duty()], "scheduler_started": NOW - 100, "scheduler_running": True,
        "notify_configured": True, "channels": 2, "failing_channels": 0,
        "dead_letters": DeadLetterPart(kept=0, dropped=0)}
    return assess(**{**arguments, **changes})


def test_a_healthy_hub_is_ok() -> None:
    report, can_work = verdict()
    assert can_work and report.status == "ok" and report.problems == []
    assert report.store.last_commit_age_s == 1.0 and report.alarms.timers_age_s == 0.5


def test_a_store_failing_its_last_batches_is_503() -> None:
    report, can_work = verdict(counters={"failing_batches": 1, "store_failures": 1, "last_commit": NOW - 5,
                                         "last_failure": NOW - 1})
    assert can_work and report.store.ok  # one failure may be a blip
    report, can_work = verdict(counters={"failing_batches": 2, "store_failures": 7, "last_commit": NOW - 60,
                                         "last_failure": NOW - 1})
    assert not can_work and report.status == "failing" and not report.store.ok
    assert report.store.store_failures_total == 7 and report.store.last_failure_age_s == 1.0


def test_a_disk_that_refuses_writes_is_503_at_once() -> None:
    outage = Episode(since=NOW - 42, reason="disk full", error="OperationalError: database or disk is full",
                     refused_batches=1)
    report, can_work = verdict(outage=outage, counters={"failing_batches": 1, "store_failures": 1,
                                                        "last_commit": NOW - 43, "last_failure": NOW - 1})
    assert not can_work and report.status == "failing" and not report.store.ok
    assert report.store.cannot_write == "disk full" and report.store.cannot_write_for_s == 42.0
    assert any("cannot write (disk full)" in p for p in report.problems)


def test_write_refusals_are_told_from_other_store_errors() -> None:
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13
    assert write_refusal(full) == "disk full"
    assert write_refusal(OSError(errno.ENOSPC, "No space left on device")) == "disk full"
    assert write_refusal(OSError(errno.EROFS, "Read-only file system")) == "file system read-only"
    assert write_refusal(RuntimeError("InfluxDB: write failed: no space left on device")) == "disk full"
    try:
        try:
            raise OSError(errno.EIO, "Input/output error")
        except OSError as error:
            raise RuntimeError("store failed") from error
    except RuntimeError as wrapped:
        assert write_refusal(wrapped) == "disk I/O error"
    assert write_refusal(sqlite3.OperationalError("database is locked")) is None
    assert write_refusal(ValueError("bad")) is None



def test_a_series_server_that_does_not_answer_is_a_refusal_not_a_blip() -> None:
    """PostgreSQL or InfluxDB away: no reading reaches the rules meanwhile, so it is the store alarm's business."""
    try:
        try:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
        except OSError as error:
            raise SeriesUnreachable("PostgreSQL cannot be reached") from error
    except SeriesUnreachable as wrapped:
        assert write_refusal(wrapped) == "database unreachable"
    assert write_refusal(InfluxUnreachable("InfluxDB at http://127.0.0.1:8086 unreachable")) == "database unreachable"
    assert write_refusal(InfluxError("InfluxDB answered 400", transient=False)) is None
    zh = cannot_write_message("database unreachable", 3, "zh")
    assert "数据库服务器无法连接" in zh and "暂时无法据此发出温度和门禁报警" in zh and "磁盘" not in zh
    en = cannot_write_message("database unreachable", 3, "en")
    assert "database server is running and reachable" in en and "disk" not in en


def test_alert_timers_that_stopped_running_are_503() -> None:
    _, can_work = verdict(duties=[duty(last_ok=NOW - STALL_FLOOR_S + 1)])
    assert can_work  # late, but not for long
    report, can_work = verdict(duties=[duty(last_ok=NOW - STALL_FLOOR_S - 1)])
    assert not can_work and not report.alarms.ok and "alert timers" in report.alarms.detail
    # Never ran without an error since the scheduler started, long ago; or stuck in a run.
    _, can_work = verdict(duties=[duty(last_ok=None, consecutive_failures=60, failures=60)])
    assert not can_work
    _, can_work = verdict(duties=[duty(last_ok=NOW - 100, running_for_s=99.0)])
    assert not can_work


def test_a_stopped_scheduler_cannot_alarm_but_one_not_started_yet_is_only_degraded() -> None:
    report, can_work = verdict(scheduler_running=False)
    assert not can_work and not report.alarms.ok
    report, can_work = verdict(scheduler_running=False, scheduler_started=None, duties=[duty(last_ok=None)])
    assert can_work and report.status == "degraded" and "the scheduler is not running" in report.problems


def test_a_hub_without_alert_timers_is_503() -> None:
    """Every hub runs its school's rules (no worker that leaves them to another): no timer duty, no alarms."""
    report, can_work = verdict(duties=[duty("hub-heartbeat", 10.0)])
    assert not can_work and not report.alarms.ok and report.alarms.detail == "no alarm timers run"
    assert set(report.alarms.model_dump()) == {"ok", "timers_age_s", "detail"}


def test_broker_duties_and_channels_make_it_degraded_not_503() -> None:
    report, can_work = verdict(mqtt_connected=False,
                               duties=[duty(), duty("reports", 60.0, consecutive_failures=1, failures=3),
                                       duty("series-retention", 3600.0, running_for_s=4000.0)],
                               failing_channels=1)
    assert can_work and report.status == "degraded"
    assert report.scheduler.failing == ["reports"] and report.scheduler.overrunning == ["series-retention"]
    assert not report.broker.ok and not report.notifications.ok and report.notifications.failing_channels == 1
    assert len(report.problems) == 4
