"""`xiaoan demo` as a user runs it: real alarms in /api/alerts within a minute or so, then a clean stop.

The gate alarm comes from the default door group: the demo configures no door group at all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from hub.auth.store import AccountStore
from hub.broker import free_port
from hub.demo import demo_rules, port_note

pytestmark = [pytest.mark.slow, pytest.mark.broker]


def fetch(url: str, token: str | None = None) -> object:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def token_of(home: Path, username: str) -> str:
    """An API token of one of the demo's accounts, made through the hub's own account store."""
    accounts = AccountStore(home / "demo" / "hub" / "hub.sqlite3")
    try:
        user = accounts.user_by_name(username)
        assert user is not None
        return accounts.create_token(user.id, "demo test")[0]
    finally:
        accounts.close()


def test_demo_raises_a_real_alarm_within_a_minute_and_stops_cleanly(tmp_path: Path) -> None:
    http_port, mqtt_port, device_port = free_port(), free_port(), free_port()
    env = {**os.environ, "XIAOAN_HTTP_PORT": str(http_port), "XIAOAN_MQTT_PORT": str(mqtt_port),
           "XIAOAN_MQTT_DEVICE_PORT": str(device_port)}
    process = subprocess.Popen([sys.executable, "-m", "hub.cli", "demo", "--home", str(tmp_path)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    started = time.monotonic()
    firing: list[dict[str, object]] = []
    gate: list[dict[str, object]] = []
    token = ""
    try:
        while time.monotonic() - started < 90 and not (firing and gate):
            time.sleep(1)
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                # Anyone may ask for health; once it answers, the demo's accounts exist.
                fetch(f"http://127.0.0.1:{http_port}/api/health")
                token = token or token_of(tmp_path, "admin")
                alerts = fetch(f"http://127.0.0.1:{http_port}/api/alerts?state=firing", token)
            except OSError:
                continue
            assert isinstance(alerts, list)
            firing = [a for a in alerts if a["subject"] == "canteen-1/fridge-1"]
            gate = [a for a in alerts if a["subject"] == "gate-1/gate-east" and a["rule"] == "gate_after_hours"]
        assert firing, "no firing fridge alarm within 90 s"
        assert gate, "no after-hours alarm of the east gate within 90 s"
        data = gate[0]["data"]
        assert isinstance(data, dict) and data["group"] == "default"
        health = fetch(f"http://127.0.0.1:{http_port}/api/health")
        assert isinstance(health, dict) and health["gates"]["defaults_unconfirmed"] is True
        # The canteen staff's account lands on the canteen view, where the fridge alarm is.
        page_request = urllib.request.Request(f"http://127.0.0.1:{http_port}/",
                                              headers={"Authorization": f"Bearer {token_of(tmp_path, 'cook')}"})
        page = urllib.request.urlopen(page_request, timeout=2).read().decode()  # noqa: S310 - loopback
        assert "报警中" in page and "演示模式" in page
    finally:
        os.killpg(process.pid, signal.SIGINT)
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output
    assert "nothing left running" in output
    for username in ("admin", "officer", "manager", "cook", "gatekeeper"):
        assert f"    {username}" in output  # each role's account, with its password, shown once
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path)], check=False, capture_output=True, text=True).stdout
    assert leftover.strip() == "", f"processes left behind: {leftover}"


def test_the_demo_says_why_its_page_is_not_on_the_port_asked_for() -> None:
    assert port_note(8000, 8000) == "" and port_note(0, 41234) == ""
    note = port_note(8000, 41234)
    assert "8000" in note and "41234" in note and "in use" in note and "XIAOAN_HTTP_PORT" in note


def test_the_demo_config_names_no_door_group() -> None:
    rules = demo_rules()
    assert "groups" not in rules["calendar"] and "default_group" not in rules["calendar"]
    assert [o["kind"] for o in rules["calendar"]["overrides"]] == ["closed", "closed"]
