"""The hub's disk fills up: it stops confirming, says so, alarms from memory, and resumes by itself.

A real hub process (``xiaoan hub``) keeps its databases on a 16 MiB tmpfs
(tests/faults/small_disk.py) the test fills to the last byte while an edge publishes
through a real Mosquitto. Then:

* no PUBACK and no ``stored`` confirmation: the edge keeps its rows (its outbox grows);
* ``/api/health`` answers 503 with the store's ``cannot_write`` reason;
* the ``store_cannot_write`` alarm reaches an HTTP channel although no alert row can be
  written;

and when the test frees the space, the same process (no restart) stores again, records
the alarm as resolved, and the oracle finds every message stored once, none lost.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.alerts.kinds import RuleKind
from hub.broker import Account, MosquittoBroker
from tests.conftest import wait_for
from tests.faults.harness import EdgeProcess, HubProcess, hub_settings, record_figures, report
from tests.faults.small_disk import SmallDisk
from tests.hub.notify.http_sink import HttpSink

pytestmark = [pytest.mark.slow, pytest.mark.broker]

DISK_BYTES = 16 * 1024 * 1024
ALARM_TITLE = "服务器无法写入数据"


def _messages(sink: HttpSink) -> list[str]:
    """What the channel received, as text (Apprise's JSON escapes Chinese)."""
    return [json.dumps(json.loads(r.body), ensure_ascii=False) for r in list(sink.received)]


def notify_yaml(path: Path, port: int) -> Path:
    routes = "\n".join(f"  {name}:\n    always: [web]\n    fallback: [bot]"
                       for name in ("canteen", "canteen_manager", "safety_officer", "gatekeeper", "admin"))
    path.write_text(f"channels:\n  bot: {{type: apprise, urls: [\"json://127.0.0.1:{port}/bot\"]}}\n"
                    f"  web: {{type: web}}\nroutes:\n{routes}\n", encoding="utf-8")
    return path


class HubFiles:
    """The hub's databases on the small disk, read from fresh copies (SmallDisk.copy_out)."""

    def __init__(self, disk: SmallDisk, db_dir: Path, into: Path) -> None:
        self.disk, self.db_dir, self.into = disk, db_dir, into

    def _query(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        if not self.disk.view(self.db_dir / "hub.sqlite3").exists():
            return []
        copy = self.disk.copy_out(self.db_dir, self.into) / "hub.sqlite3"
        db = sqlite3.connect(copy)
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # the schema is not there yet
            return []
        finally:
            db.close()

    def stored(self) -> int:
        rows = self._query("SELECT count(*) FROM seen")
        return int(rows[0][0]) if rows else 0  # type: ignore[call-overload]

    def alerts(self, rule: str) -> list[tuple[object, ...]]:
        return self._query("SELECT state, fired_at, resolved_at FROM alerts WHERE rule = ?", rule)


def test_a_full_hub_disk_stops_confirmation_alarms_and_resumes_by_itself(
        tmp_path: Path, own_broker: MosquittoBroker, accounts: dict[str, Account],
        edges: Callable[..., EdgeProcess]) -> None:
    own_broker.start()
    disk = SmallDisk(tmp_path / "hub-disk", DISK_BYTES).start()
    hub: HubProcess | None = None
    try:
        with HttpSink() as bot:
            settings = hub_settings(disk.path, own_broker, accounts, "hub-disk-full")
            hub = HubProcess(settings, wrap=disk.argv,
                             XIAOAN_NOTIFY_CONFIG=str(notify_yaml(tmp_path / "notify.yaml", bot.port)))
            hub.start()
            files = HubFiles(disk, settings.db_dir, tmp_path / "copies" / "hub")
            node = edges(own_broker, "dev-d")
            node.start()
            wait_for(lambda: files.stored() >= 20, timeout=60)

            filled = disk.fill()
            wait_for(lambda: hub is not None and hub.health()[0] == 503, timeout=120, interval=0.5)
            code, body = hub.health()
            assert code == 503
            assert body["store"]["cannot_write"] == "disk full" and not body["store"]["ok"]
            assert any("cannot write" in p for p in body["problems"])
            wait_for(lambda: any(ALARM_TITLE in m for m in _messages(bot)), timeout=60)
            alarm = json.loads(next(m for m in _messages(bot) if ALARM_TITLE in m))
            # Nothing is confirmed while the disk is full: the edge's outbox keeps what it writes.
            stored_when_full = files.stored()
            wait_for(lambda: len(node.ledger().pending) >= 100, timeout=60)
            disk.top_up()
            assert files.stored() == stored_when_full
            held_rows = node.ledger().pending
            held = len(held_rows)
            assert not files.alerts(RuleKind.STORE_CANNOT_WRITE)  # it lives in memory until space returns

            disk.free()
            wait_for(lambda: hub is not None and hub.health()[0] == 200, timeout=60, interval=0.5)
            wait_for(lambda: files.alerts(RuleKind.STORE_CANNOT_WRITE), timeout=30)
            (state, fired_at, resolved_at), = files.alerts(RuleKind.STORE_CANNOT_WRITE)
            assert state == "resolved" and isinstance(fired_at, float) and isinstance(resolved_at, float)
            # Everything the edge kept while the disk was full is confirmed once stored: it leaves the outbox.
            wait_for(lambda: not held_rows & node.ledger().pending, timeout=120, interval=0.5)
            node.stop()
            hub.stop()
            disk.copy_out(settings.db_dir, tmp_path / "copies" / "hub")
            final = report([node.ledger()], settings.model_copy(update={"home": tmp_path / "copies"}))
    finally:
        if hub is not None:
            hub.stop()
        disk.close()
    record_figures("disk_full_hub", {
        "fault": f"hub disk full ({DISK_BYTES // 2**20} MiB tmpfs filled), freed again; no restart",
        "rounds": 1, "filler_bytes": filled, "held_by_edge_while_full": held,
        "outage_s": round(resolved_at - fired_at, 1), "alarm_title": alarm.get("title", ""),
        **final.figures()})
    final.assert_clean()
    assert final.total("stored") > stored_when_full
