"""`xiaoan demo` as a user runs it: a real alarm in /api/alerts within 60 s, then a clean stop."""

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

from hub.broker import free_port

pytestmark = [pytest.mark.slow, pytest.mark.broker]


def fetch(url: str) -> object:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def test_demo_raises_a_real_alarm_within_a_minute_and_stops_cleanly(tmp_path: Path) -> None:
    http_port, mqtt_port = free_port(), free_port()
    env = {**os.environ, "XIAOAN_HTTP_PORT": str(http_port), "XIAOAN_MQTT_PORT": str(mqtt_port)}
    process = subprocess.Popen([sys.executable, "-m", "hub.cli", "demo", "--home", str(tmp_path)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    started = time.monotonic()
    firing: list[dict[str, object]] = []
    try:
        while time.monotonic() - started < 60 and not firing:
            time.sleep(1)
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                alerts = fetch(f"http://127.0.0.1:{http_port}/api/alerts?state=firing")
            except OSError:
                continue
            assert isinstance(alerts, list)
            firing = [a for a in alerts if a["subject"] == "canteen-1/fridge-1"]
        assert firing, "no firing fridge alarm within 60 s"
        page = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/", timeout=2).read().decode()
        assert "报警中" in page and "演示模式" in page
    finally:
        os.killpg(process.pid, signal.SIGINT)
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output
    assert "nothing left running" in output
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path)], check=False, capture_output=True, text=True).stdout
    assert leftover.strip() == "", f"processes left behind: {leftover}"
