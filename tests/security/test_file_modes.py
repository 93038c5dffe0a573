"""What `xiaoan hub` and `xiaoan edge` create is readable by their own user only (umask 077).

``hub.sqlite3`` holds password hashes, session tokens and the audit log; photos show a
school's kitchen; the edge outbox holds readings not yet confirmed. A real hub and a
real edge are started as a school starts them (the CLI, in their own processes), made
to create every kind of file — databases with their WAL, an alarm, a photo of it, the
outbox — and nothing under their state directories may have a group or other bit.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from hub.auth.store import AccountStore
from hub.broker import Account, MosquittoBroker, free_port
from hub.processes import stop_gracefully
from tests.conftest import SITE, wait_for

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]
#: The smallest thing the hub keeps as a photo: PNG's signature, then anything.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def shared(root: Path) -> list[str]:
    """Everything under ``root`` (itself included) that some other user could read, with its mode."""
    found = []
    for path in [root, *sorted(root.rglob("*"))]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            found.append(f"{path} {oct(mode)}")
    return found


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        stop_gracefully(process, 15)


def get_json(url: str, token: str) -> object:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback
            return True
    except OSError:
        return False


def test_the_hub_and_the_edge_create_nothing_others_can_read(
        tmp_path: Path, broker: MosquittoBroker, accounts: dict[str, Account],
        processes: list[subprocess.Popen[bytes]]) -> None:
    home, edge_state = tmp_path / "home", tmp_path / "edge"
    http_port = free_port()
    env = {**os.environ, "XIAOAN_HOME": str(home), "XIAOAN_HTTP_PORT": str(http_port),
           "XIAOAN_MQTT_HOST": broker.host, "XIAOAN_MQTT_PORT": str(broker.hub_port),
           "XIAOAN_MQTT_USERNAME": "hub", "XIAOAN_MQTT_PASSWORD": accounts["hub"].password,
           "XIAOAN_MQTT_CLIENT_ID": "hub-modes", "XIAOAN_TICK_S": "0.2"}
    env.pop("XIAOAN_CONFIG", None)
    with (tmp_path / "hub.log").open("wb") as log:
        # From a permissive umask, as a shell's: what the hub creates must not depend on its parent's.
        processes.append(subprocess.Popen([sys.executable, "-m", "hub.cli", "hub"], cwd=ROOT, env=env,
                                          stdout=subprocess.DEVNULL, stderr=log, umask=0o022))
    url = f"http://127.0.0.1:{http_port}"
    wait_for(lambda: answers(f"{url}/api/health"), timeout=60)

    device = accounts["dev-c"]
    config = tmp_path / "edge.yaml"
    config.write_text(yaml.safe_dump({
        "site": SITE, "device": device.username, "state_dir": str(edge_state), "clock_sync_check": "assume",
        "heartbeat_s": 1,
        "broker": {"host": broker.host, "port": broker.port, "username": device.username,
                   "password": device.password},
        # Past the fridge's hard limit (15 °C): the hub alarms at once.
        "sources": [{"kind": "simulated_temperature", "sensor": "fridge-modes", "profile": "fridge",
                     "interval_s": 0.2, "base": 20.0, "noise": 0.0}],
    }), encoding="utf-8")
    with (tmp_path / "edge.log").open("wb") as log:
        processes.append(subprocess.Popen([sys.executable, "-m", "hub.cli", "edge", "--config", str(config)],
                                          cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=log,
                                          umask=0o022))

    accounts_db = AccountStore(home / "hub" / "hub.sqlite3")
    try:
        admin = accounts_db.user_by_name("admin")
        assert admin is not None
        token = accounts_db.create_token(admin.id, "file modes test")[0]
    finally:
        accounts_db.close()

    def firing() -> list[dict[str, object]]:
        found = get_json(f"{url}/api/alerts?state=firing", token)
        assert isinstance(found, list)
        return [a for a in found if a["subject"] == f"{device.username}/fridge-modes"]

    wait_for(firing, timeout=60)
    alert_id = firing()[0]["id"]
    response = httpx.post(f"{url}/api/alerts/{alert_id}/photos", headers={"Authorization": f"Bearer {token}"},
                          files={"photo": ("fridge.png", PNG, "image/png")}, timeout=10)
    assert response.status_code == 201, response.text

    db_dir = home / "hub"
    for made in (db_dir / "hub.sqlite3", db_dir / "hub.sqlite3-wal", db_dir / "readings.sqlite3",
                 db_dir / "photos" / str(alert_id), edge_state / "outbox.sqlite3"):
        assert made.exists(), f"{made} was not created: the test proves nothing about it"
    assert shared(home) == []
    assert shared(edge_state) == []
