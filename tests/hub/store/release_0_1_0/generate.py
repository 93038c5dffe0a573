"""Writes a realistic state directory with xiaoan 0.1.0 and dumps each database as SQL text.

The ``*.sql`` files beside this script are its output, made once with release 0.1.0
(commit 38045d9, the last release before schema versions) and checked in, so the
upgrade test (tests/hub/store/test_migrations.py) opens exactly what a school's hub
holds today. Rerunning it under a later release would describe that release, not
0.1.0; to regenerate, run it in a checkout of that commit::

    git worktree add /tmp/xiaoan-0.1.0 38045d9
    cd /tmp/xiaoan-0.1.0 && PYTHONPATH=$PWD python tests/hub/store/release_0_1_0/generate.py OUT_DIR

Every table holds rows: devices and sensors announced and fed through the real ingest
pipeline (so alerts, rule state, seen ids and readings are what the engine writes),
alerts in several lifecycle states, silences (one removed), a limit edit, a dead
letter, accounts with a password, a session, a token and failed logins, gate sweeps,
visits, rounds and overrides, meal samples with dishes, a discard and an excursion,
report runs, a sign-off and reminders, and notification delivery attempts.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import sys
import tempfile
from contextlib import closing
from pathlib import Path
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher

from edge import wire
from hub.auth.credentials import Passwords
from hub.auth.roles import Role
from hub.gate.overrides import OverrideSpec
from hub.ingest import Inbound
from hub.notify.deliverylog import DeliveryAttempt, DeliveryLog
from hub.rules.silence import Silence
from hub.runtime import Hub
from hub.samples.store import ExcursionLink
from hub.settings import HubConfig, HubSettings
from hub.store.base import StoredReading
from hub.store.sqlite_series import SqliteSeriesStore

SITE = "s1"
TZ = ZoneInfo("Asia/Shanghai")
#: Files of the hub's state directory, as the hub names them.
FILES = ("hub.sqlite3", "readings.sqlite3", "gate.sqlite3", "samples.sqlite3", "reports.sqlite3", "notify.sqlite3")
#: The passwords the accounts were given (the upgrade test signs in with them).
PASSWORDS = {"admin": "admin-password-2026", "wang": "wang-password-2026"}


def local(text: str) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ).timestamp()


def _inbound(channel: wire.Channel, payload: object, device: str, seq: int = 1) -> Inbound:
    return Inbound(wire.topic(SITE, device, channel), json.dumps(payload).encode(), seq, 1, 0.0)


def _status(device: str, sensors: list[dict[str, object]], ts: float) -> dict[str, object]:
    return {"state": "online", "boot_id": "b1", "ts": ts, "sensors": sensors}


def _telemetry(device: str, seq: int, sensor: str, points: list[tuple[float, float]]) -> dict[str, object]:
    return {"device": device, "boot_id": "b1", "seq": seq, "readings": [
        {"sensor": sensor, "kind": "temperature", "value": value, "unit": "°C", "ts": ts} for ts, value in points]}


def populate(home: Path) -> None:
    """Run a 0.1.0 hub on ``home`` long enough to write every table."""
    t0 = local("2026-11-16 07:00")
    hub = Hub(HubSettings(home=home, rules=HubConfig(alarm_delay_s=0)), connect_mqtt=False)
    try:
        hub.accounts.passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
        fridge = {"kind": "temperature", "unit": "°C", "profile": "fridge"}
        hub.pipeline.process([
            _inbound(wire.Channel.STATUS, _status("dev-a", [{"sensor": "fridge-1", "name": "冷藏柜 1", **fridge},
                                                            {"sensor": "fridge-2", "name": "冷藏柜 2", **fridge}],
                                                  t0), "dev-a"),
            _inbound(wire.Channel.STATUS, _status("dev-b", [{"sensor": "fridge-3", "name": "冷藏柜 3", **fridge}],
                                                  t0), "dev-b"),
        ])
        seq = 0
        for device, sensor, values in (("dev-a", "fridge-1", [4.0, 4.5, 16.0, 16.5]),       # firing
                                       ("dev-a", "fridge-2", [3.0, 16.0, 16.2, 3.5, 3.2]),  # fired, resolved
                                       ("dev-b", "fridge-3", [2.0, 16.0, 3.0])):             # fired, resolved
            for i, value in enumerate(values):
                seq += 1
                hub.pipeline.process([_inbound(wire.Channel.TELEMETRY,
                                               _telemetry(device, seq, sensor, [(t0 + 60 * (seq + i), value)]),
                                               device, seq)])
        seq += 1
        hub.pipeline.process([_inbound(wire.Channel.EVENT, {
            "device": "dev-a", "boot_id": "b1", "seq": seq, "ts": t0 + 3600, "sensor": "door-1", "kind": "door",
            "state": "open", "detail": {"source": "reed"}}, "dev-a", seq)])
        hub.pipeline.process([Inbound(wire.topic(SITE, "dev-a", wire.Channel.TELEMETRY), b"{not json", 99, 1, 0.0)])

        alerts = {a.subject: a for a in hub.state.alerts()}
        assert {"dev-a/fridge-1", "dev-a/fridge-2", "dev-b/fridge-3"} <= set(alerts), alerts
        now = t0 + 7200
        hub.engine.act(alerts["dev-b/fridge-3"].id or 0, "close", "wang", "moved the food to fridge 1")
        hub.engine.act(alerts["dev-b/fridge-3"].id or 0, "verify", "admin", "checked")
        hub.engine.act(alerts["dev-a/fridge-2"].id or 0, "acknowledge", "wang", "door left open")

        hub.state.add_silence(Silence(subject="dev-b/fridge-3", reason="defrost"), "admin", now)
        removed = hub.state.add_silence(Silence(subject="dev-a/fridge-1", reason="delivery"), "admin", now)
        hub.state.remove_silence(removed.id or 0, "admin", now + 300)
        hub.state.save_limit_edit("dev-a/fridge-2", {"low": 0.0, "high": 6.0}, "admin", now + 400)
        # 0.1.0's scale-out progress row (retired since, dropped by state schema 8): this script runs in that release.
        hub.state.mark_progress("hub-worker-1", now, now)  # type: ignore[attr-defined]

        admin = hub.accounts.create_user("admin", "管理员", Role.ADMIN, password=PASSWORDS["admin"])
        wang = hub.accounts.create_user("wang", "王老师", Role.CANTEEN_MANAGER, password=PASSWORDS["wang"])
        hub.accounts.create_user("gate", "门卫", Role.GATEKEEPER, password=None)
        hub.accounts.start_session(admin.id)
        hub.accounts.start_session(wang.id)
        hub.accounts.create_token(admin.id, "dashboard")
        hub.accounts.record_login_failure(["user:wang", "ip:10.0.0.9"], 900)

        gate = hub.gate.store
        gate.set_last_tick(now)
        gate.add_sweep("main", local("2026-11-16 22:00"), local("2026-11-16 22:05"),
                       {"dev-c/door-1": {"state": "open", "name": "北门", "since": now}}, 1)
        gate.add_visit(now, "north", "tag-01", "dev-c/reader", "dev-c", "b1", 1, "nfc")
        gate.add_visit(now + 60, None, "tag-99", "dev-c/reader", "dev-c", "b1", 2, "nfc")
        gate.add_round("night", local("2026-11-16 22:00"), local("2026-11-16 23:00"), False, ["south"], now)
        hub.gate.add_override(OverrideSpec(kind="no_school", date=dt.date(2026, 11, 20), reason="运动会"), "admin", now)
        gone = hub.gate.add_override(OverrideSpec(kind="closed", date=dt.date(2026, 11, 21)), "admin", now)
        hub.gate.remove_override(gone.id, "admin", now + 60)

        samples = hub.samples.store
        lunch, _ = samples.open_record("2026-11-16", "lunch", "", cabinet="kitchen/sample-fridge", station="dev-s",
                                       at=local("2026-11-16 11:30"), placed_by="wang", reviewer="admin",
                                       retention_s=48 * 3600, now=now)
        samples.add_dish(lunch.id, "红烧肉", 125.0, None, local("2026-11-16 11:31"), "api", 48 * 3600)
        samples.add_dish(lunch.id, "米饭", 130.0, "lunch-20261116-09", local("2026-11-16 11:32"), "station",
                         48 * 3600, scanned=True)
        breakfast, _ = samples.open_record("2026-11-15", "breakfast", "", cabinet="kitchen/sample-fridge",
                                           station="", at=local("2026-11-15 07:00"), placed_by="wang",
                                           reviewer="", retention_s=48 * 3600, now=now)
        samples.add_dish(breakfast.id, "包子", 110.0, None, local("2026-11-15 07:01"), "api", 48 * 3600)
        samples.mark_notice(breakfast.id, local("2026-11-17 06:00"))
        samples.mark_discarded(breakfast.id, local("2026-11-17 07:05"), "wang", "48 h done", False)
        samples.link_excursion(ExcursionLink(lunch.id, "kitchen/sample-fridge", local("2026-11-16 13:00"),
                                             local("2026-11-16 13:40"), 2.0, 9.5, [1]))

        reports = hub.reports.store
        reports.set_meta("last_weekly", "2026-W46")
        reports.add_run("weekly", "2026-W46", now, "reports/weekly-2026-W46.pdf")
        reports.add_run("daily", "2026-11-16", now, "reports/daily-2026-11-16.pdf")
        reports.add_reminder("weekly", "2026-W46", now + 3600)
        signed = reports.add_signoff("weekly", "2026-W46", "admin", "管理员", now + 7200, "已审阅")
        assert signed is not None
        hub.state.append_audit(now + 7200, "admin", "report.signed", "report/weekly/2026-W46",
                               {"signer_name": "管理员", "comment": "已审阅"})
    finally:
        hub.stop()

    log = DeliveryLog(home / "hub" / "notify.sqlite3")
    try:
        log.record(DeliveryAttempt(now, "wecom", "urgent", "dev-a/fridge-1", (1,), "sent", "", 0.4, "冷藏柜 1 超温"))
        log.record(DeliveryAttempt(now + 1, "sms", "urgent", "dev-a/fridge-1", (1, 2), "failed", "timeout", 5.0,
                                   "冷藏柜 1 超温"))
    finally:
        log.close()

    # Readings older than the raw retention, folded into hourly aggregates as the hub's maintenance does.
    series = SqliteSeriesStore(home / "hub" / "readings.sqlite3", raw_retention_s=30 * 86_400.0)
    try:
        old = t0 - 60 * 86_400
        series.write([StoredReading("dev-a/fridge-1", old + 60 * i, 3.0 + i / 10) for i in range(90)], [])
        series.downsample_and_prune(t0)
    finally:
        series.close()


def dump(home: Path, out: Path) -> None:
    """Each database as ``<name>.sql`` (sqlite's own dump: schema, rows, sequences)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        with closing(sqlite3.connect(home / "hub" / name)) as db:
            text = "\n".join(db.iterdump()) + "\n"
        (out / f"{Path(name).stem}.sql").write_text(text, encoding="utf-8")


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).parent
    with tempfile.TemporaryDirectory() as tmp:
        populate(Path(tmp))
        dump(Path(tmp), out)
    print(f"wrote {', '.join(FILES)} as SQL dumps to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
