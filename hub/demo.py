"""``xiaoan demo``: a whole demo school on one machine, with alarms that are real.

Starts a private Mosquitto (credentials generated, no anonymous access), the hub,
and two simulated edge agents as separate processes speaking the real wire
contract: a canteen node (fridge, freezer, food-sample fridge) whose fridge warms
past 8 °C and, after ``FRIDGE_REPAIRED_S``, cools again (so an alarm can be walked from
firing through interim actions to resolved, closed and verified), and a gate node whose
east gate opens. The hub's rule engine raises the
fridge alarm from the published readings. The alarm delay is shortened to 15 s so
this happens within a minute, and the page says so.

The gate node's gates belong to no door group: they fall into the default group with
the default opening windows (``calendar.default_group``), as they would at a school
whose installer never wrote a calendar. So that the east gate's opening is after hours
whatever the time of day the demo runs, the demo school's calendar makes today and
tomorrow special dates on which the gates stay shut (``closed``); the windows
themselves are the defaults, and the pages say that nobody has confirmed them yet.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from hub.auth.credentials import new_password
from hub.auth.roles import Role
from hub.auth.store import AccountStore
from hub.broker import DYNSEC_ADMIN, Account, MosquittoBroker, find_dynsec_plugin, free_port
from hub.calendar import CalendarConfig

SITE = "demo-school"
DEMO_DELAY_S = 15
#: When the demo fridge is "repaired" and starts cooling back to 4 °C (about 20 s later it is below 8 °C).
FRIDGE_REPAIRED_S = 240
#: One person per role, so every view of the web app can be tried.
DEMO_PEOPLE = (("admin", "管理员 Admin", Role.ADMIN), ("officer", "安全员 李老师", Role.SAFETY_OFFICER),
               ("manager", "食堂负责人 张经理", Role.CANTEEN_MANAGER), ("cook", "食堂员工 王师傅", Role.CANTEEN_STAFF),
               ("gatekeeper", "门卫 老陈", Role.GATEKEEPER))


def demo_rules(now: float | None = None) -> dict[str, Any]:
    """The demo hub's config (``XIAOAN_CONFIG``): a short alarm delay, and today and tomorrow shut at the gates.

    No door group is configured: the gates are watched by the default group's windows.
    """
    tz = ZoneInfo(CalendarConfig().timezone)
    today = dt.datetime.fromtimestamp(time.time() if now is None else now, tz).date()
    closed = [{"date": (today + dt.timedelta(days=offset)).isoformat(), "kind": "closed",
               "reason": "演示：全天关门 · demo: gates shut all day"} for offset in (0, 1)]
    return {"alarm_delay_s": DEMO_DELAY_S, "calendar": {"overrides": closed}}


def _canteen_config(broker: MosquittoBroker, password_file: Path, state_dir: Path) -> dict[str, Any]:
    return {
        "site": SITE,
        "device": "canteen-1",
        "broker": {"host": broker.host, "port": broker.port, "username": "canteen-1",
                   "password_file": str(password_file)},
        "state_dir": str(state_dir),
        "heartbeat_s": 10,
        "clock_sync_check": "assume",
        "sources": [
            {"kind": "simulated_temperature", "sensor": "fridge-1", "name": "冷藏冰箱 1 号", "profile": "fridge",
             "interval_s": 2, "scenario": "drift_warm", "base": 4.0, "start_after_s": 5, "rate_per_min": 15,
             "ceiling": 11.0, "recover_after_s": FRIDGE_REPAIRED_S},
            {"kind": "simulated_temperature", "sensor": "freezer-1", "name": "冷冻柜 1 号", "profile": "freezer",
             "interval_s": 2, "scenario": "steady", "base": -18.0, "noise": 0.3},
            {"kind": "simulated_temperature", "sensor": "sample-fridge", "name": "留样冰箱",
             "profile": "sample_fridge", "interval_s": 2, "scenario": "door_spike", "base": 3.5,
             "spike_every_s": 120, "spike_for_s": 30, "spike_rise": 2.5, "start_after_s": 30},
        ],
    }


def _gate_config(broker: MosquittoBroker, password_file: Path, state_dir: Path) -> dict[str, Any]:
    return {
        "site": SITE,
        "device": "gate-1",
        "broker": {"host": broker.host, "port": broker.port, "username": "gate-1",
                   "password_file": str(password_file)},
        "state_dir": str(state_dir),
        "heartbeat_s": 10,
        "clock_sync_check": "assume",
        "sources": [
            {"kind": "simulated_door", "sensor": "gate-east", "name": "东门", "door_kind": "gate",
             "schedule": [{"at_s": 20, "state": "open"}, {"at_s": 140, "state": "closed"}],
             "repeat_every_s": 300},
            {"kind": "simulated_door", "sensor": "gate-west", "name": "西门", "door_kind": "gate"},
        ],
    }


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)


def _pick_port(preferred: int) -> int:
    if preferred == 0:
        return free_port()
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            return free_port()
    return preferred


def port_note(wanted: int, chosen: int) -> str:
    """Why the demo's web page is on another port than the one asked for (empty: it is not)."""
    if wanted in (0, chosen):
        return ""
    return (f"port {wanted} is in use by another program, so the demo took the free port {chosen}"
            f" (set XIAOAN_HTTP_PORT to choose one) · {wanted} 端口已被其他程序占用，演示改用 {chosen} 端口")


def _wait_http(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own loopback URL
                return True
        except OSError:
            time.sleep(0.3)
    return False


@dataclass
class DemoSetup:
    """Everything written before anything starts: accounts, broker files, configs, environment."""

    home: Path
    accounts: list[Account]
    broker: MosquittoBroker
    http_port: int
    edge_configs: list[Path]
    env: dict[str, str]
    #: (username, role, password) of the web accounts, generated for this run.
    people: list[tuple[str, Role, str]]
    #: Why the web page is not on the port asked for ("" when it is).
    port_note: str = ""

    @property
    def credentials(self) -> Path:
        return self.home / "credentials"


def prepare_demo(home: Path) -> DemoSetup:
    # The demo is its own little world: start it fresh every time.
    shutil.rmtree(home, ignore_errors=True)
    credentials = home / "credentials"
    accounts = [Account.generate("hub", role="hub"), Account.generate("canteen-1", site=SITE),
                Account.generate("gate-1", site=SITE)]
    for account in accounts:
        _write_secret(credentials / f"{account.username}.password", account.password)
    # The hub's door is what XIAOAN_MQTT_PORT names for the hub; the edges use the devices' door.
    hub_port = _pick_port(int(os.environ.get("XIAOAN_MQTT_PORT", "1884")))
    device_port = _pick_port(int(os.environ.get("XIAOAN_MQTT_DEVICE_PORT", "1883")))
    # The hub adds devices from its admin page through the broker's dynamic security plugin.
    admin = Account.generate(DYNSEC_ADMIN) if find_dynsec_plugin() is not None else None
    if admin is not None:
        _write_secret(credentials / f"{admin.username}.password", admin.password)
    broker = MosquittoBroker(home / "broker", accounts, port=device_port, hub_port=hub_port, admin=admin)
    wanted_http = int(os.environ.get("XIAOAN_HTTP_PORT", "8000"))
    http_port = _pick_port(wanted_http)
    hub_config = home / "hub.yaml"
    hub_config.write_text(yaml.safe_dump(demo_rules(), allow_unicode=True, sort_keys=False), encoding="utf-8")
    edge_configs = []
    for name, build in (("canteen-1", _canteen_config), ("gate-1", _gate_config)):
        path = home / f"{name}.yaml"
        path.write_text(yaml.safe_dump(build(broker, credentials / f"{name}.password", home / "edge" / name),
                                       allow_unicode=True, sort_keys=False), encoding="utf-8")
        edge_configs.append(path)
    env = {**os.environ, "XIAOAN_HOME": str(home), "XIAOAN_MQTT_PORT": str(broker.hub_port),
           "XIAOAN_MQTT_DEVICE_PORT": str(broker.port),
           "XIAOAN_HTTP_PORT": str(http_port), "XIAOAN_CONFIG": str(hub_config),
           "XIAOAN_BANNER": f"演示模式：报警延时缩短为 {DEMO_DELAY_S} 秒（正式默认 15 分钟）· "
                            f"Demo: alarm delay shortened to {DEMO_DELAY_S} s (default 15 min)"}
    return DemoSetup(home, accounts, broker, http_port, edge_configs, env, _demo_people(home / "hub" / "hub.sqlite3"),
                     port_note(wanted_http, http_port))


def _demo_people(state_db: Path) -> list[tuple[str, Role, str]]:
    """Web accounts with random passwords (only their hashes are kept; the terminal shows them once)."""
    store = AccountStore(state_db)
    people = []
    try:
        for username, name, role in DEMO_PEOPLE:
            password = new_password()
            store.create_user(username, name, role, password=password)
            people.append((username, role, password))
    finally:
        store.close()
    return people


def run_demo(home: Path | None = None, duration_s: float | None = None) -> int:
    setup = prepare_demo((home or Path(os.environ.get("XIAOAN_HOME", "var"))).resolve() / "demo")
    broker, env, accounts, credentials = setup.broker, setup.env, setup.accounts, setup.credentials
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    xiaoan = [sys.executable, "-m", "hub.cli"]
    try:
        broker.start()
        print(f"broker   mqtt://127.0.0.1:{broker.port} for devices, :{broker.hub_port} for the hub"
              "  (anonymous access refused)", flush=True)
        children.append(subprocess.Popen([*xiaoan, "hub"], env=env, start_new_session=True))
        url = f"http://127.0.0.1:{setup.http_port}/"
        if not _wait_http(url + "api/health", 30):
            print("the hub did not come up; see the log above", file=sys.stderr)
            return 1
        for path in setup.edge_configs:
            children.append(subprocess.Popen([*xiaoan, "edge", "--config", str(path)], env=env,
                                             start_new_session=True))
        print(f"""
  校安 xiaoan demo is running — {SITE}
  web page      {url}   (sign in with an account below · 用下面的账号登录)""" + (f"""
                {setup.port_note}""" if setup.port_note else "") + f"""
  alerts (API)  {url}api/alerts   (needs a sign-in: open it in the browser after signing in)
  health        {url}api/health   (open to anyone)
  API docs      {url}docs
  MQTT accounts (generated for this run; files in {credentials}):
""" + "".join(f"    {a.username:10s} {a.password}\n" for a in accounts) + """
  Web accounts, one per role (shown only now · 网页账号，每个角色一个，密码只显示这一次):
""" + "".join(f"    {name:10s} {role.value:16s} {password}\n" for name, role, password in setup.people) + f"""
  Scenario: fridge-1 warms past 8 °C → the hub raises a real alarm within ~45 s
  (alarm delay shortened to {DEMO_DELAY_S} s for the demo); record what you did while it is warm;
  after {FRIDGE_REPAIRED_S // 60} min the fridge is "repaired" and cools, the alarm resolves and can be closed
  and verified. The east gate opens at ~20 s: it is in no door group, so the default opening hours
  watch it; today is a special date with the gates shut, so the opening is after hours and the
  gatekeeper gets an alarm (sign in as gatekeeper).
  Ctrl-C stops everything.
""", flush=True)
        started = time.monotonic()
        while not stopping:
            if duration_s is not None and time.monotonic() - started >= duration_s:
                break
            dead = [c for c in children if c.poll() is not None]
            if dead:
                print(f"a demo process exited unexpectedly ({dead[0].args!r}); stopping", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        # Edges first (they say "offline"), then the hub, then the broker.
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        broker.stop()
        print("demo stopped; nothing left running", flush=True)
