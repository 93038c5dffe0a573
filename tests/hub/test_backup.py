"""Backups of a running hub, restored into an empty state directory and read with the hub's own stores.

The record a school must not lose: readings, an alarm with its photo, a food-sample record, a
signed weekly report (its PDF too), the accounts, the config files and the broker's accounts.
The backup is taken while the hub runs and keeps storing; the restore refuses a state directory
that is not empty unless forced. The nightly duty keeps the newest N archives, and a failure is
an alarm and a degraded ``/api/health`` until a backup works again.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from edge import wire
from hub.alerts.kinds import AlertState, RuleKind
from hub.app import create_app
from hub.auth.roles import Role
from hub.auth.store import AccountStore
from hub.backup import PREFIX, RETRY_S, BackupError, archives, backup_sources, make_backup, restore
from hub.cli import main
from hub.gate.store import GateStore
from hub.ingest import Inbound
from hub.report.period import week_of
from hub.report.store import ReportStore
from hub.runtime import Hub
from hub.samples.monitor import DishInput
from hub.samples.store import SampleStore
from hub.settings import HubConfig, HubSettings
from hub.store.sqlite_series import SqliteSeriesStore
from hub.store.state import StateStore
from hub.web import photos
from tests.conftest import SITE, wait_for

pytestmark = pytest.mark.broker

#: A 1×1 PNG: what a phone's photo of the fridge is, as far as the hub can tell.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000000000200015c0d0a2d0000000049454e44ae426082")
SENSORS = (wire.SensorInfo(sensor="fridge-1", kind="temperature", unit="°C", profile="fridge", name="冷藏冰箱"),)


def status(device: str) -> Inbound:
    message = wire.Status(state="online", boot_id="b1", ts=time.time(), sensors=SENSORS)
    return Inbound(wire.topic(SITE, device, wire.Channel.STATUS), wire.encode(message), 1, 1, time.time())


def telemetry(device: str, seq: int, value: float, at: float) -> Inbound:
    message = wire.Telemetry(device=device, boot_id="b1", seq=seq, readings=(
        wire.Reading(sensor="fridge-1", kind="temperature", value=value, unit="°C", ts=at),))
    return Inbound(wire.topic(SITE, device, wire.Channel.TELEMETRY), wire.encode(message), seq, 1, time.time())


def fill(hub: Hub) -> dict[str, object]:
    """Readings, a firing alarm with a photo, a food sample, a signed report: what the restore must find."""
    now = time.time()
    hub.pipeline.process([status("dev-a"), *(telemetry("dev-a", seq, 4.0 + seq / 10, now - 600 + seq)
                                             for seq in range(1, 21)), telemetry("dev-a", 21, 16.0, now)])
    wait_for(lambda: any(a.subject == "dev-a/fridge-1" and a.state == AlertState.FIRING for a in hub.state.alerts()))
    (alarm,) = [a for a in hub.state.alerts() if a.subject == "dev-a/fridge-1"]
    assert alarm.id is not None
    photo = photos.save(photos.directory(hub.settings.db_dir), alarm.id, PNG)
    sample = hub.samples.log_meal("lunch", [DishInput("番茄炒蛋", 150.0)], placed_by="王师傅", actor="cook").record
    hub.accounts.create_user("officer", "安全员 李老师", Role.SAFETY_OFFICER, password="a long enough password 1")
    period = week_of(dt.datetime.fromtimestamp(now, ZoneInfo("Asia/Shanghai")).date() - dt.timedelta(days=7),
                     ZoneInfo("Asia/Shanghai"))
    report = hub.reports.generate(period, now)
    hub.reports.sign(period, "officer", "安全员 李老师", "已审核", now=now)
    return {"alarm": alarm.id, "photo": photo, "sample": sample.id, "period": period.label, "report": report}


def test_a_backup_of_a_running_hub_restores_every_record(make_hub: Callable[..., Hub], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "etc" / "hub.yaml"
    config.parent.mkdir()
    config.write_text("alarm_delay_s: 0\n", encoding="utf-8")
    broker_dir = tmp_path / "mosquitto-xiaoan"
    (broker_dir / "credentials").mkdir(parents=True)
    (broker_dir / "passwd").write_text("dev-a:$7$101$hash\n", encoding="utf-8")
    (broker_dir / "acl").write_text("user dev-a\ntopic write xiaoan/v1/s/dev-a/#\n", encoding="utf-8")
    (broker_dir / "credentials" / "dev-a.password").write_text("secret\n", encoding="utf-8")
    hub = make_hub(rules=HubConfig(alarm_delay_s=0), connect=False)
    kept = fill(hub)

    # The hub keeps storing while the backup runs: the copy is a consistent snapshot all the same.
    stop = threading.Event()

    def keep_storing() -> None:
        seq = 100
        while not stop.is_set():
            hub.pipeline.process([telemetry("dev-a", seq, 16.0, time.time())])  # still too warm
            seq += 1

    writer = threading.Thread(target=keep_storing)
    writer.start()
    backups = tmp_path / "usb"
    backups.mkdir()
    monkeypatch.setenv("XIAOAN_HOME", str(hub.settings.home))
    monkeypatch.setenv("XIAOAN_CONFIG", str(config))
    try:
        assert main(["backup", "--to", str(backups), "--broker-dir", str(broker_dir)]) == 0
    finally:
        stop.set()
        writer.join()
    (archive,) = archives(backups)
    assert archive.name.startswith(PREFIX)
    assert archive.stat().st_mode & 0o077 == 0  # the school's record and its secrets: the owner's only
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"home/hub/hub.sqlite3", "home/hub/readings.sqlite3", "home/hub/samples.sqlite3",
            "home/hub/gate.sqlite3", "home/hub/reports.sqlite3",
            f"home/hub/photos/{kept['alarm']}/{kept['photo']}", "config/0-hub.yaml", "broker/passwd", "broker/acl",
            "broker/credentials/dev-a.password", "MANIFEST.json"} <= names
    assert not any(name.endswith(("-wal", "-shm")) for name in names)

    restored = tmp_path / "restored-home"
    assert main(["restore", str(archive), "--home", str(restored)]) == 0
    db = restored / "hub"
    state = StateStore(db / "hub.sqlite3")
    accounts = AccountStore(db / "hub.sqlite3")
    series = SqliteSeriesStore(db / "readings.sqlite3")
    samples = SampleStore(db / "samples.sqlite3")
    reports = ReportStore(db / "reports.sqlite3")
    gate = GateStore(db / "gate.sqlite3")
    try:
        assert [d["device"] for d in state.devices()] == ["dev-a"]
        values = [r.value for r in series.readings("dev-a/fridge-1", 0, time.time() + 60)]
        assert values[:21] == [*(round(4.0 + seq / 10, 1) for seq in range(1, 21)), 16.0]
        alarm = state.alert(int(str(kept["alarm"])))
        assert alarm is not None and alarm.rule == RuleKind.TEMPERATURE_LIMITS and alarm.state == AlertState.FIRING
        assert photos.listing(photos.directory(db), alarm.id or 0) == [kept["photo"]]
        assert (photos.directory(db) / str(alarm.id) / str(kept["photo"])).read_bytes() == PNG
        record = samples.record(int(str(kept["sample"])))
        assert record is not None and [d.name for d in record.dishes] == ["番茄炒蛋"]
        (signed,) = reports.signoffs("weekly", str(kept["period"]))
        assert signed.signer_name == "安全员 李老师"
        assert (restored / "reports" / Path(str(kept["report"])).name).read_bytes()[:5] == b"%PDF-"
        assert accounts.user_by_name("officer") is not None
        assert any(e.action == "report.signed" for e in state.audit_entries())
        assert gate.schema_version >= 1
    finally:
        for store in (state, accounts, series, samples, reports, gate):
            store.close()
    assert (restored / "restored-config" / "hub.yaml").read_text(encoding="utf-8") == "alarm_delay_s: 0\n"
    assert (restored / "restored-config" / "broker" / "credentials" / "dev-a.password").read_text() == "secret\n"
    assert main(["audit", "verify"]) == 0  # the live hub's chain; the restored one is checked below
    monkeypatch.setenv("XIAOAN_HOME", str(restored))
    assert main(["audit", "verify"]) == 0


def test_restore_refuses_a_state_directory_that_is_not_empty_without_force(make_hub: Callable[..., Hub],
                                                                           tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    hub = make_hub(connect=False)
    hub.pipeline.process([status("dev-a"), telemetry("dev-a", 1, 4.5, time.time())])
    backups = tmp_path / "usb"
    backups.mkdir()
    archive = make_backup(backup_sources(hub.settings), backups).archive
    occupied = tmp_path / "occupied"
    (occupied / "hub").mkdir(parents=True)
    (occupied / "hub" / "hub.sqlite3").write_bytes(b"a newer record")
    (occupied / "hub" / "hub.sqlite3-wal").write_bytes(b"its write-ahead log")
    assert main(["restore", str(archive), "--home", str(occupied)]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert (occupied / "hub" / "hub.sqlite3").read_bytes() == b"a newer record"
    assert main(["restore", str(archive), "--home", str(occupied), "--force"]) == 0
    assert not (occupied / "hub" / "hub.sqlite3-wal").exists()  # an old WAL must not be replayed into it
    state = StateStore(occupied / "hub" / "hub.sqlite3")
    try:
        assert [d["device"] for d in state.devices()] == ["dev-a"]
    finally:
        state.close()


def test_a_damaged_archive_is_refused_before_anything_moves(make_hub: Callable[..., Hub], tmp_path: Path) -> None:
    hub = make_hub(connect=False)
    archive = make_backup(backup_sources(hub.settings), tmp_path).archive
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as source, tarfile.open(damaged, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member)
            assert data is not None
            content = data.read()
            if member.name == "home/hub/hub.sqlite3":
                content = content[:-1] + bytes([content[-1] ^ 1])
            target.addfile(member, io.BytesIO(content))
    home = tmp_path / "restore-here"
    with pytest.raises(BackupError, match="checksum"):
        restore(damaged, home)
    assert not (home / "hub").exists()


@pytest.fixture
def idle_hub(tmp_path: Path) -> Iterator[Hub]:
    """A hub whose scheduler is not started: the test hands the nightly duty its times."""
    hub = Hub(HubSettings(home=tmp_path / "hub-home", backup_dir=tmp_path / "usb-stick", backup_keep=2),
              connect_mqtt=False)
    yield hub
    hub.stop()


def test_the_nightly_backup_keeps_the_newest_and_alarms_when_it_fails(idle_hub: Hub, tmp_path: Path) -> None:
    hub = idle_hub
    stick = tmp_path / "usb-stick"  # not mounted yet
    nightly = hub.backup
    assert nightly is not None and "backup" in hub.scheduler.names
    tz = ZoneInfo(hub.settings.timezone)
    night = dt.datetime.combine(dt.date.today() - dt.timedelta(days=5), dt.time(3, 0), tz).timestamp()

    nightly.tick(night)
    (alarm,) = [a for a in hub.state.alerts() if a.rule == RuleKind.BACKUP_FAILED]
    assert alarm.state == AlertState.FIRING and str(stick) in alarm.message
    with TestClient(create_app(hub.settings, hub=hub)) as client:
        body = client.get("/api/health").json()
    assert body["backup"]["failing"] and body["backup"]["configured"]
    assert "the last backup failed" in body["problems"] and body["status"] == "degraded"
    assert str(stick) not in json.dumps(body)  # the open route names no path

    stick.mkdir()
    nightly.tick(night + 60)  # within the hour after a failure: not tried again yet
    assert archives(stick) == []
    nightly.tick(night + RETRY_S)
    assert len(archives(stick)) == 1
    (alarm,) = [a for a in hub.state.alerts() if a.rule == RuleKind.BACKUP_FAILED]
    assert alarm.state == AlertState.RESOLVED
    for day in range(1, 4):  # three more nights: two kept
        nightly.tick(night + day * 86_400)
        nightly.tick(night + day * 86_400 + 600)  # once a night
    kept = archives(stick)
    assert len(kept) == 2
    assert nightly.status().kept == 2 and not nightly.status().failing
    with TestClient(create_app(hub.settings, hub=hub)) as client:
        body = client.get("/api/health").json()
    assert body["backup"]["ok"] and body["backup"]["kept"] == 2
