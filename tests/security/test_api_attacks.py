"""Attacks on the hub's web API: hostile text, numbers and bodies in every write route; credentials that must fail.

Write routes are walked from the OpenAPI spec and their text and number fields from
the request schemas, so a field or route added later is attacked without editing this
file (a new write route only needs its entry in ``CASES``, and a test says so).
Every answer must be a 4xx, or a 2xx that stored the text verbatim; never a 5xx.
Attacks are counted (tried, accepted) into test-artifacts/security.json.

The permission walk over every route and role is ``tests/hub/auth/test_routes.py``;
here only what it does not try: wrong, revoked and disabled accounts' tokens and a
cookie without its CSRF token on every write route, and roles raising themselves
through request bodies.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import math
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from hub.alerts.kinds import AlertState
from hub.app import create_app
from hub.auth.credentials import Passwords
from hub.auth.roles import Role
from hub.checks.config import ChecksConfig, ItemConfig
from hub.checks.kinds import Answer, Category, Urgency
from hub.checks.service import AnswerInput
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from hub.visitors.kinds import IdType
from hub.visitors.store import NewVisit
from tests.hub.auth.conftest import FAST
from tests.hub.auth_helpers import PASSWORD, bearer, login, make_user
from tests.hub.web.conftest import SENSORS, Feed
from tests.security.attacks import AttackLog

_log = AttackLog("api_attacks")

#: Text every text field is sent; each must be refused or stored exactly as sent.
STRINGS = {
    "SQL injection (DROP TABLE)": "'; DROP TABLE alerts; --",
    "SQL injection (OR 1=1)": "' OR '1'='1",
    "script tag": "<script>alert(1)</script>",
    "RTL override": "\u202eexe.txt",
    "zero-width joiner and space": "a\u200d\u200bb",
    "emoji (ZWJ family)": "\U0001f468\u200d\U0001f469\u200d\U0001f467\U0001f9ca",
    "4-byte CJK (U+20000)": "\U00020000\U00020001",
    "NUL": "a\x00b",
    "1 MiB string": "长" * (1 << 20),
}
SCRIPT = STRINGS["script tag"]
#: A URL is not the place for a megabyte (clients refuse to send one); 8 KiB still passes any proxy's limit.
URL_STRINGS = {**STRINGS, "1 MiB string": "长" * 2048}
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
#: Numbers no reading, time or limit may be: they must be refused.
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
#: Timestamps and sizes far outside any school day: refused, or stored and still served.
FAR = {"before 1970": -1e18, "year 3000": 32503680000.0, "1e300": 1e300, "2^64": float(2 ** 64)}
HUGE_INTEGERS = {"2^64": 2 ** 64, "-2^63-1": -(2 ** 63) - 1}
NESTING = 10_000
JSON_HEADERS = {"Content-Type": "application/json"}

_counter = itertools.count(1)
#: The channel the route cases name.
DUTY_CHANNEL = "duty-hook"
#: Accounts the sample cases name as sampler and reviewer (a record names only an enabled account).
SAMPLE_PEOPLE = {"王师傅": Role.CANTEEN_STAFF, "李老师": Role.CANTEEN_MANAGER}


# --- the hub under attack -------------------------------------------------------------------------------------


@dataclass
class World:
    """A hub with a fridge, a freezer and a door, a client, and an admin's token headers."""

    hub: Hub
    client: TestClient
    admin: dict[str, str]
    feeds: dict[str, Feed] = field(default_factory=dict)
    #: The admin's username (whom an order to start is assigned to).
    admin_name: str = ""

    def alert(self, state: str) -> int:
        """A new alarm on a device of its own, brought to ``state`` (firing, resolved or closed)."""
        device = f"attack-{next(_counter)}"
        feed = self.feeds[device] = Feed(self.hub, device)
        feed.status(SENSORS)
        feed.reading("fridge-1", 12.5)
        (alert,) = [a for a in self.hub.state.alerts([AlertState.FIRING]) if a.subject.startswith(device)]
        assert alert.id is not None
        if state in ("resolved", "closed"):
            feed.reading("fridge-1", 4.0)
        if state == "closed":
            self.hub.engine.act(alert.id, "close", "another-person", "已报修 repaired")
        return alert.id

    def sample(self) -> int:
        # A day of its own: an earlier case may have discarded today's record, which then takes no dishes.
        created = self.client.post("/api/samples", json={"meal": "lunch", "date": _new_day(),
                                                         "dishes": [{"name": "红烧肉"}]}, headers=self.admin)
        assert created.status_code == 201, created.text
        record_id: int = created.json()["id"]
        return record_id

    def route(self) -> Target:
        """A new route's name, with the channel the route case names kept (a route needs a channel)."""
        kept = self.client.put(f"/api/admin/notify/channels/{DUTY_CHANNEL}", headers=self.admin,
                               json={"kind": "webhook", "label": "值班群", "url": "http://127.0.0.1:9/hook"})
        assert kept.status_code == 200, kept.text
        return Target({"name": f"route-{next(_counter)}"})

    def rota_route(self) -> Target:
        """A route that exists (a rota is set on a route, never makes one), named as ``route`` names it."""
        target = self.route()
        made = self.client.put(f"/api/admin/notify/routes/{target.params['name']}", headers=self.admin,
                               json={"always": [DUTY_CHANNEL], "fallback": []})
        assert made.status_code == 200, made.text
        return target

    def order(self, state: str) -> Target:
        """A work order reported by 王师傅, brought to ``state`` (reported, assigned or fixed by 王师傅; mine:
        assigned to the admin who sends the requests)."""
        checks = self.hub.checks
        order = checks.report("厨房水龙头漏水", "后厨", "", Urgency.NORMAL, actor="王师傅")
        if state == "mine":
            checks.assign(order.id, self.admin_name, actor="李老师")
        if state in ("assigned", "fixed"):
            checks.assign(order.id, "王师傅", actor="李老师")
        if state == "fixed":
            checks.fix(order.id, "已换阀门", actor="王师傅")
        return Target({"order_id": order.id})

    def checklist(self) -> Target:
        """A checklist of its own (the night round's items), so each submission is the first of its period."""
        key = f"round-{next(_counter)}"
        self.hub.checks.config.templates[key] = self.hub.checks.config.templates["night_round"].model_copy()
        return Target({"template": key})

    def run_line(self, rejected: bool) -> Target:
        """A night round the admin submitted (a checklist of its own); ``rejected``: its first line sent back."""
        key = self.checklist().params["template"]
        answers = [AnswerInput(item, Answer.OK) for item in ("rooms_locked", "power_off", "windows_shut",
                                                             "gate_locked")]
        run = self.hub.checks.submit(key, answers, time.time() - 600, actor=self.admin_name).run
        if not rejected:
            return Target({"run_id": run.id, "item": "rooms_locked"})
        rejection = self.hub.checks.reject(run.id, "rooms_locked", "请重新检查", actor="李老师")
        return Target({"rejection_id": rejection.id})

    def walk(self) -> Target:
        """A checklist of its own with one line at a place, which the admin's scan (id 1) opens."""
        key = f"walk_{next(_counter)}"
        place = self.hub.checks.places.all()[0].name
        self.hub.checks.config.templates[key] = self.hub.checks.config.templates["night_round"].model_copy(
            update={"items": [ItemConfig(key="door", text="门已上锁", place=place)]})
        return Target({"template": key})

    def scan_report(self) -> Target:
        """A report from a place's code waiting to be triaged (put on the record as the public form would)."""
        place = self.hub.checks.places.all()[0]
        report_id, _ = self.hub.checks.store.add_scan_report(place.id, Category.DOOR_LOCK, "门锁坏了", "attack",
                                                             time.time(), lambda _counts: None)
        assert report_id is not None
        return Target({"report_id": report_id})

    def dish(self) -> tuple[int, int]:
        """A sample record with one weighed dish, logged by the admin (who may then correct it)."""
        created = self.client.post("/api/samples", json={"meal": "lunch", "date": _new_day(),
                                                         "dishes": [{"name": "红烧肉", "weight_g": 150}]},
                                   headers=self.admin)
        assert created.status_code == 201, created.text
        return created.json()["id"], created.json()["dishes"][0]["id"]


@dataclass
class Target:
    """Where one attack goes: its path parameters and, for routes about oneself, whose token it carries."""

    params: dict[str, Any]
    headers: dict[str, str] | None = None
    username: str | None = None


def _as_self(world: World) -> Target:
    user = make_user(world.hub, Role.CANTEEN_STAFF, password=PASSWORD)
    token, _ = world.hub.accounts.create_token(user.id, "attacks")
    return Target({}, {"Authorization": f"Bearer {token}"}, user.username)


def _other_user(world: World) -> Target:
    user = make_user(world.hub, Role.CANTEEN_STAFF)
    return Target({"user_id": user.id}, username=user.username)


@dataclass(frozen=True)
class Case:
    """A write route's good request, which attacks then bend one field at a time."""

    body: Callable[[], dict[str, Any]]
    target: Callable[[World], Target] = lambda _world: Target({})
    #: Read back after a 2xx to find the stored text (formatted with the target's parameters).
    readback: str | None = None


def _checkpoint(world: World) -> Target:
    """A route's checkpoint ``gatehouse``, kept (a route names checkpoints that exist); a new route's name."""
    kept = world.client.put("/api/admin/setup/checkpoints/gatehouse", headers=world.admin,
                            json={"name": "门卫室", "tags": ["04A1B2C3D4"]})
    assert kept.status_code == 200, kept.text
    return Target({"name": f"route-{next(_counter)}"})


def _new_day() -> str:
    """A day of its own, so each request makes a new record rather than adding to the last."""
    return (dt.date(2026, 1, 1) + dt.timedelta(days=next(_counter))).isoformat()


def _past_week() -> str:
    """A finished week not signed yet (one sign-off per week)."""
    n = next(_counter)
    return f"{2000 + n // 52 % 25}-W{n % 52 + 1:02d}"


def _new_override() -> dict[str, Any]:
    day = dt.date(2031, 1, 1) + dt.timedelta(days=next(_counter))
    return {"kind": "no_school", "date": day.isoformat(), "groups": [], "reason": "运动会"}


def _visit(world: World, waiting: bool, came: bool = False) -> Target:
    """A visit of its own: invited (to check in) or waiting at the gate (the admin may answer for its host)."""
    book = world.hub.visitors
    host = make_user(world.hub, Role.TEACHER)
    fields = NewVisit("张建国", "13812345678", "鲜丰配送", host.username, "送菜", 1, "", IdType.NONE, "")
    if waiting:
        return Target({"visit_id": book.register(fields, actor=host).record.id})
    invited = book.invite(fields, book.local_day(book.clock()), actor=host).record
    if came:
        book.check_in(invited.id, actor=host)
    return Target({"visit_id": invited.id})


def _head_teacher(world: World) -> Target:
    """A teacher heading 三年级2班, acting with their own token (a slip is only theirs to issue)."""
    teacher = make_user(world.hub, Role.TEACHER)
    world.hub.visitors.set_classes(teacher.username, ["三年级2班"], actor=teacher)
    token, _ = world.hub.accounts.create_token(teacher.id, "attacks")
    return Target({}, {"Authorization": f"Bearer {token}"}, teacher.username)


def _visitor() -> dict[str, Any]:
    return {"name": "张建国", "phone": "138 1234 5678", "organisation": "鲜丰蔬菜配送", "purpose": "送菜",
            "party_size": 2, "plate": "粤B12345", "request_key": f"visit-{next(_counter):06d}"}


CASES: dict[tuple[str, str], Case] = {
    ("PATCH", "/api/me"): Case(lambda: {"display_name": f"王师傅{next(_counter)}"}, _as_self, "/api/me"),
    ("POST", "/api/me/password"): Case(lambda: {"old_password": PASSWORD, "new_password": "a new passphrase"},
                                       _as_self),
    ("POST", "/api/tokens"): Case(lambda: {"name": "grafana"}, readback="/api/tokens?all=true"),
    ("POST", "/api/users"): Case(lambda: {"username": f"user-{next(_counter)}", "role": "canteen_staff",
                                          "display_name": f"李老师{next(_counter)}"}, readback="/api/users"),
    ("PATCH", "/api/users/{user_id}"): Case(lambda: {"display_name": f"李老师{next(_counter)}"}, _other_user,
                                            "/api/users"),
    ("POST", "/api/users/{user_id}/password"): Case(lambda: {"new_password": "a new passphrase"}, _other_user),
    ("POST", "/api/alerts/{alert_id}/acknowledge"): Case(
        lambda: {"text": "送货", "reason": "delivery"},
        lambda world: Target({"alert_id": world.alert("firing")}), "/api/alerts/{alert_id}"),
    ("POST", "/api/alerts/{alert_id}/close"): Case(
        lambda: {"text": "已报修", "reason": ""},
        lambda world: Target({"alert_id": world.alert("resolved")}), "/api/alerts/{alert_id}"),
    ("POST", "/api/alerts/{alert_id}/verify"): Case(
        lambda: {"text": "已验收", "reason": ""},
        lambda world: Target({"alert_id": world.alert("closed")}), "/api/alerts/{alert_id}"),
    ("POST", "/api/silences"): Case(lambda: {"subject": "dev-a/*", "rules": ["temperature_limits"], "reason": "检修",
                                                  "ends_at": time.time() + 3600},
                                    readback="/api/silences"),
    ("POST", "/api/samples"): Case(lambda: {"meal": "lunch", "date": _new_day(), "placed_by": "王师傅",
                                            "reviewer": "李老师", "dishes": [{"name": "红烧肉", "weight_g": 150}]},
                                   readback="/api/samples"),
    ("POST", "/api/samples/{record_id}/people"): Case(
        lambda: {"placed_by": "王师傅", "reviewer": "李老师"},
        lambda world: Target({"record_id": world.sample()}), "/api/samples/{record_id}"),
    ("POST", "/api/samples/{record_id}/discard"): Case(
        lambda: {"note": "到期"}, lambda world: Target({"record_id": world.sample()}), "/api/samples/{record_id}"),
    ("POST", "/api/calendar/overrides"): Case(_new_override, readback="/api/calendar/overrides"),
    ("POST", "/api/reports/signoffs"): Case(lambda: {"kind": "weekly", "period": _past_week(), "comment": "同意"},
                                            readback="/api/reports/signoffs"),
    ("PUT", "/api/sensors/{device}/{sensor}/limits"): Case(
        lambda: {"low": 0, "high": 8}, lambda _world: Target({"device": "dev-a", "sensor": "fridge-1"})),
    ("POST", "/api/notifications/test"): Case(lambda: {"channel": "wecom"}),
    ("POST", "/api/alerts/{alert_id}/actions"): Case(
        lambda: {"text": "已把食品转移到 2 号冰箱"},
        lambda world: Target({"alert_id": world.alert("firing")}), "/api/alerts/{alert_id}/actions"),
    ("POST", "/api/alerts/{alert_id}/notes"): Case(
        lambda: {"text": "补充：维修单号 A-12"},
        lambda world: Target({"alert_id": world.alert("closed")}), "/api/alerts/{alert_id}/notes"),
    ("POST", "/api/samples/{record_id}/notes"): Case(
        lambda: {"text": "补充说明"}, lambda world: Target({"record_id": world.sample()}),
        "/api/samples/{record_id}/notes"),
    ("POST", "/api/reports/notes"): Case(lambda: {"kind": "weekly", "period": _past_week(), "text": "说明"}),
    ("POST", "/api/samples/{record_id}/dishes/{dish_id}/portion"): Case(
        lambda: {"add_g": 30}, lambda world: Target(dict(zip(("record_id", "dish_id"), world.dish(), strict=True))),
        "/api/samples/{record_id}"),
    ("POST", "/api/samples/{record_id}/dishes/{dish_id}/correct"): Case(
        lambda: {"name": "红烧排骨", "weight_g": 160, "short_reason": "", "reason": "登记错了菜名"},
        lambda world: Target(dict(zip(("record_id", "dish_id"), world.dish(), strict=True))),
        "/api/samples/{record_id}"),
    ("POST", "/api/calendar/defaults/confirm"): Case(
        lambda: {"windows": {"school_day": [{"start": "06:30", "end": "08:30"}], "other_day": []}}),
    ("PUT", "/api/admin/notify/channels/{name}"): Case(
        lambda: {"kind": "webhook", "label": "值班群", "url": "http://127.0.0.1:9/hook"},
        lambda _world: Target({"name": f"hook-{next(_counter)}"})),
    ("PUT", "/api/admin/notify/routes/{name}"): Case(
        lambda: {"always": [DUTY_CHANNEL], "fallback": []}, lambda world: world.route()),
    ("PUT", "/api/admin/notify/routes/{name}/rota"): Case(
        lambda: {"shifts": [{"days": ["mon", "tue"], "when": "school_days", "start": "19:00", "end": "07:00",
                             "people": [], "roles": ["gatekeeper"]}]},
        lambda world: world.rota_route()),
    ("POST", "/api/checks/{template}"): Case(
        lambda: {"opened_at": time.time() - 600, "request_id": f"request-{next(_counter):06d}",
                 "answers": [{"item": item, "answer": "ok", "text": "已查看", "note": ""}
                             for item in ("rooms_locked", "power_off", "windows_shut", "gate_locked")]},
        lambda world: world.checklist()),
    ("POST", "/api/checks/runs/{run_id}/items/{item}/reject"): Case(
        lambda: {"reason": "三楼还有一间没锁"}, lambda world: world.run_line(False)),
    ("POST", "/api/checks/rejections/{rejection_id}/refill"): Case(
        lambda: {"item": "rooms_locked", "answer": "ok", "text": "已复查", "note": "三楼已锁好"},
        lambda world: world.run_line(True)),
    ("POST", "/api/checks/{template}/lines"): Case(
        lambda: {"scan": 1, "answers": [{"item": "door", "answer": "ok", "text": "已查看", "note": ""}]},
        lambda world: world.walk()),
    ("POST", "/api/workorders"): Case(
        lambda: {"title": "实验楼二楼门锁坏", "place": "实验楼", "text": "锁芯卡住", "urgency": "normal"}),
    ("POST", "/api/workorders/{order_id}/assign"): Case(
        lambda: {"assignee": "王师傅", "note": "今天修好"}, lambda world: world.order("reported"),
        "/api/workorders/{order_id}"),
    ("POST", "/api/workorders/{order_id}/fix"): Case(
        lambda: {"note": "已换锁芯"}, lambda world: world.order("assigned"), "/api/workorders/{order_id}"),
    ("POST", "/api/workorders/{order_id}/start"): Case(
        lambda: {"note": "已到现场"}, lambda world: world.order("mine"), "/api/workorders/{order_id}"),
    ("POST", "/api/workorders/{order_id}/accept"): Case(
        lambda: {"note": "验收合格"}, lambda world: world.order("fixed"), "/api/workorders/{order_id}"),
    ("POST", "/api/workorders/{order_id}/reopen"): Case(
        lambda: {"reason": "还在漏水"}, lambda world: world.order("fixed"), "/api/workorders/{order_id}"),
    ("POST", "/api/workorders/{order_id}/notes"): Case(
        lambda: {"text": "补充：已报后勤"}, lambda world: world.order("reported"), "/api/workorders/{order_id}"),
    ("POST", "/api/places"): Case(lambda: {"name": f"食品库房{next(_counter)}"}, readback="/api/places"),
    ("PUT", "/api/checks/templates/{key}"): Case(
        lambda: {"name": "实验室周检查", "cadence": "weekly", "due_by": "17:00", "days": "school",
                 "role": "safety_officer", "place": "实验楼",
                 "items": [{"key": "gas", "text": "燃气阀门已关闭", "section": "实验室", "unit": "",
                            "key_item": True},
                           {"key": "temp", "text": "试剂柜温度", "kind": "number", "low": 2, "high": 25,
                            "unit": "°C"}]},
        lambda _world: Target({"key": f"lab_{next(_counter)}"}), "/api/checks/templates"),
    ("POST", "/api/scan-reports/{report_id}/file"): Case(
        lambda: {"title": "宿舍楼门锁坏", "urgency": "normal", "category": "door_lock"},
        lambda world: world.scan_report(), "/api/workorders"),
    ("POST", "/api/scan-reports/{report_id}/dismiss"): Case(
        lambda: {"reason": "重复上报"}, lambda world: world.scan_report()),
    ("POST", "/api/devices/enrolled"): Case(
        lambda: {"name": f"fridge-{next(_counter)}", "site": "school-1", "role": "cold_chain"}),
    ("POST", "/api/calibration/{device}/{sensor}/checks"): Case(
        lambda: {"method": "reference", "points": [{"reference": 4.0, "probe": 4.2}], "certificate_no": "JL-2026-1",
                 "note": "冷藏柜中层"},
        lambda _world: Target({"device": "dev-a", "sensor": "fridge-1"}), "/api/calibration/{device}/{sensor}"),
    ("POST", "/api/visitors"): Case(
        lambda: {**_visitor(), "host": "李老师", "id_type": "resident_id", "id_last4": "123X"}),
    ("POST", "/api/visitors/invitations"): Case(
        lambda: {**_visitor(), "day": (dt.date.today() + dt.timedelta(days=1)).isoformat()}),
    ("POST", "/api/visitors/{visit_id}/check-in"): Case(
        lambda: {"id_type": "driver_licence", "id_last4": "0042"}, lambda world: _visit(world, waiting=False),
        "/api/visitors/{visit_id}"),
    ("POST", "/api/visitors/{visit_id}/again"): Case(
        lambda: {"request_key": f"again-{next(_counter):06d}"}, lambda world: _visit(world, waiting=False, came=True)),
    ("POST", "/api/visitors/{visit_id}/answer"): Case(
        lambda: {"allow": True}, lambda world: _visit(world, waiting=True), "/api/visitors/{visit_id}"),
    ("PUT", "/api/visitors/classes/{username}"): Case(
        lambda: {"classes": ["三年级2班", "五年级1班"]}, lambda _world: Target({"username": "李老师"}),
        "/api/visitors/classes/{username}"),
    ("POST", "/api/leaves"): Case(
        lambda: {"pupil": "王小明", "class_name": "三年级2班", "reason": "看牙医", "start": time.time(),
                 "until": time.time() + 3600, "returns": True, "collector": "父亲王强",
                 "request_key": f"slip-{next(_counter):06d}"}, _head_teacher),
    ("POST", "/api/leaves/without-slip"): Case(
        lambda: {"pupil": "赵小红", "class_name": "三年级2班", "reason": "家里有事",
                 "request_key": f"exit-{next(_counter):06d}"}),
    ("PUT", "/api/admin/setup/sensors/{device}/{sensor}"): Case(
        lambda: {"name": f"冷藏柜{next(_counter)}", "role": "cold_unit", "profile": "fridge"},
        lambda _world: Target({"device": "dev-a", "sensor": "fridge-1"}), "/api/admin/setup"),
    ("PUT", "/api/admin/setup/calendar"): Case(
        lambda: {"terms": [{"name": f"秋季学期{next(_counter)}", "start": "2026-09-01", "end": "2027-01-22"}],
                 "holidays": ["2026-10-21"]}, readback="/api/admin/setup"),
    ("PUT", "/api/admin/setup/groups/{name}"): Case(
        lambda: {"school_day": [{"start": "06:30", "end": "08:30"}], "other_day": [], "close_grace_s": 600},
        lambda _world: Target({"name": f"后门{next(_counter)}"}), "/api/admin/setup"),
    ("PUT", "/api/admin/setup/national/{year}"): Case(
        lambda: {"holidays": ["2099-01-01", "2099-01-02"], "workdays": ["2099-01-04"]},
        lambda _world: Target({"year": 2099}), "/api/admin/setup/national/{year}"),
    ("PUT", "/api/admin/setup/checkpoints/{name}"): Case(
        lambda: {"name": f"门卫室{next(_counter)}", "tags": [f"04A1B2{next(_counter):04d}"],
                 "sensors": ["gate-1/cp-1"]},
        lambda _world: Target({"name": f"cp-{next(_counter)}"}), "/api/admin/setup"),
    ("PUT", "/api/admin/setup/routes/{name}"): Case(
        lambda: {"name": f"校园巡更{next(_counter)}", "checkpoints": ["gatehouse"], "days": "every_day",
                 "day_rounds": [{"start": "07:00", "end": "08:00"}],
                 "night_rounds": [{"start": "23:30", "end": "01:30"}]},
        _checkpoint, "/api/admin/setup"),
    ("PUT", "/api/admin/setup/units"): Case(
        lambda: {"units": [{"temperature": "dev-a/fridge-1", "door": "dev-a/door-1"}]}, readback="/api/admin/setup"),
    ("POST", "/api/admin/setup/groups-from-template"): Case(
        lambda: {"name": f"校门{next(_counter)}"}, readback="/api/admin/setup"),
}
#: Good requests this world refuses as it should: no channel is configured (nothing to test), no broker
#: administrator account (devices are added with `xiaoan provision` then).
REFUSED_HERE = {"/api/notifications/test": 404, "/api/devices/enrolled": 409}
#: Reads with nothing to answer in this world: its devices' door has no TLS, so no school CA to hand out.
ABSENT_HERE = {"/api/devices/ca.crt": 404}
#: Multipart uploads are attacked by ``test_photo_upload_attacks``.
MULTIPART = {("POST", "/api/alerts/{alert_id}/photos"), ("POST", "/api/workorders/{order_id}/photos"),
             ("POST", "/api/calibration/checks/{check_id}/certificate"), ("POST", "/api/checks/photos")}


# --- walking the spec -----------------------------------------------------------------------------------------


Path_ = tuple[str | int, ...]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _leaves(spec: dict[str, Any], schema: dict[str, Any], at: Path_ = ()) -> Iterator[tuple[Path_, str]]:
    """Every scalar field of a request schema (through $ref, anyOf, arrays' first item) and its JSON type."""
    schema = _resolve(spec, schema)
    for branch in schema.get("anyOf", []):
        yield from _leaves(spec, branch, at)
    kind = schema.get("type")
    if kind == "object":
        for name, sub in schema.get("properties", {}).items():
            yield from _leaves(spec, sub, (*at, name))
    elif kind == "array":
        yield from _leaves(spec, schema.get("items", {}), (*at, 0))
    elif kind in ("string", "number", "integer") and at:
        yield at, kind


def _fields(spec: dict[str, Any], operation: dict[str, Any], kind: str) -> list[Path_]:
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    return sorted({p for p, k in _leaves(spec, schema) if k == kind or (kind == "number" and k == "integer")},
                  key=str)


def _put(body: dict[str, Any], at: Path_, value: Any) -> dict[str, Any]:
    """A copy of ``body`` with the field at ``at`` set (creating the lists and objects on the way)."""
    result = copy.deepcopy(body)
    node: Any = result
    for step, following in zip(at, (*at[1:], None), strict=True):
        if following is None:
            if isinstance(node, list) and not node:
                node.append(value)
            else:
                node[step] = value
            break
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(node, list):
            if not node:
                node.append(empty)
        elif step not in node or node[step] is None:
            node[step] = empty
        node = node[step]
    return result


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _writes(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in spec["paths"].items() for method, op in ops.items()
            if method in ("post", "put", "patch", "delete")]


def _json_writes(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for m, p, op in _writes(spec)
            if "application/json" in op.get("requestBody", {}).get("content", {})]


# --- fixtures ---------------------------------------------------------------------------------------------------


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    # A scan opens a place's lines for the longest a school may set: the attacks take a while.
    hub = Hub(HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=0, checks=ChecksConfig(scan_valid_min=240))),
              connect_mqtt=False)
    hub.accounts.passwords = Passwords(FAST)
    try:
        with TestClient(create_app(hub.settings, hub=hub), base_url="http://hub.test") as client:
            admin_user, admin = bearer(hub, Role.ADMIN)
            # The admin's scan of a place's code (id 1), which opens the lines a walk case answers.
            assert hub.checks.places.seen(hub.checks.places.all()[0], admin_user.username).id == 1
            for username, role in SAMPLE_PEOPLE.items():  # the people sample records name: real accounts
                make_user(hub, role, username)
            found = World(hub, client, admin, admin_name=admin_user.username)
            found.feeds["dev-a"] = Feed(hub)
            found.feeds["dev-a"].status(SENSORS)
            yield found
    finally:
        hub.stop()


@pytest.fixture
def spec(world: World) -> dict[str, Any]:
    found: dict[str, Any] = world.client.get("/openapi.json").json()
    return found


def teardown_module() -> None:
    _log.record()


# --- sending ----------------------------------------------------------------------------------------------------


def _send(world: World, method: str, path: str, case: Case, body: dict[str, Any] | str | bytes,
          ) -> tuple[Response, Target]:
    target = case.target(world)
    url = path.format(**target.params)
    content = body if isinstance(body, str | bytes) else json.dumps(body, ensure_ascii=False)
    headers = {**JSON_HEADERS, **(target.headers or world.admin)}
    return world.client.request(method, url, content=content, headers=headers), target


def _stored(world: World, case: Case, target: Target, response: Response, at: Path_, text: str) -> bool:
    """Whether a 2xx kept ``text`` exactly: in the answer or read back, or (a password) as the password."""
    if "password" in str(at[-1]):
        username = target.username or json.loads(response.text or "{}").get("username")
        return bool(username) and world.hub.accounts.authenticate(username, text) is not None
    found = list(_strings(response.json())) if response.content else []
    if case.readback is not None:
        found += _strings(world.client.get(case.readback.format(**target.params), headers=world.admin).json())
    return any(text in s for s in found)


def _check(attack: str, response: Response, accepted_if_2xx: bool, where: str) -> bool:
    """Count an attempt; accepted means a 5xx, or a 2xx that should not have been."""
    code = response.status_code
    accepted = code >= 500 or (200 <= code < 300 and accepted_if_2xx) or not (200 <= code < 500)
    _log.attempted(attack, accepted)
    assert not accepted, (where, attack, code, response.text[:300])
    return 200 <= code < 300


# --- the tests --------------------------------------------------------------------------------------------------


def test_every_write_route_has_a_case(spec: dict[str, Any]) -> None:
    """A write route added later fails here until it is given a good request to bend."""
    json_routes = {(m, p) for m, p, _ in _json_writes(spec)}
    assert json_routes - set(CASES) == set(), "write routes without an attack case"
    assert set(CASES) <= json_routes
    other = {(m, p) for m, p, op in _writes(spec) if "requestBody" in op} - json_routes
    assert other == MULTIPART


def test_each_case_is_a_good_request(world: World, spec: dict[str, Any]) -> None:
    """The attacks bend a request that works, so a refusal is the attack's doing."""
    refused = []
    for method, path, _ in _json_writes(spec):
        case = CASES[(method, path)]
        response, _ = _send(world, method, path, case, case.body())
        expected = REFUSED_HERE.get(path, 200)
        if response.status_code // 100 != expected // 100:
            refused.append((method, path, response.status_code, response.text[:300]))
    assert refused == []


def _keeps(world: World, method: str, path: str, case: Case, at: Path_) -> bool:
    """Whether the route keeps this field at all (``reason`` means something to acknowledge only, say)."""
    marker = f"标记{next(_counter)}"
    response, target = _send(world, method, path, case, _put(case.body(), at, marker))
    return 200 <= response.status_code < 300 and _stored(world, case, target, response, at, marker)


def test_hostile_text_in_every_text_field(world: World, spec: dict[str, Any]) -> None:
    stored = 0
    for method, path, operation in _json_writes(spec):
        case = CASES[(method, path)]
        for at in _fields(spec, operation, "string"):
            keeps = _keeps(world, method, path, case, at)
            for attack, text in STRINGS.items():
                response, target = _send(world, method, path, case, _put(case.body(), at, text))
                where = f"{method} {path} {'.'.join(map(str, at))}"
                if _check(attack, response, False, where) and keeps:
                    kept = _stored(world, case, target, response, at, text)
                    if not kept:
                        _log.attempted(f"{attack}: stored altered", True)
                    assert kept, (where, attack, "answered 2xx but did not keep the text as sent")
                    stored += 1
    assert stored >= 50  # most fields take most of these strings: the test reaches the stores
    _reads_still_answer(world, spec)


def test_hostile_text_in_path_and_query_parameters(world: World, spec: dict[str, Any]) -> None:
    """Text where a name, a date or a number belongs in the URL: a 4xx or an empty answer."""
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method != "get" or path == "/api/stream":
                continue
            for parameter in operation.get("parameters", []):
                for attack, text in URL_STRINGS.items():
                    if parameter["in"] == "path":
                        params = {p["name"]: "1" for p in operation["parameters"] if p["in"] == "path"}
                        params[parameter["name"]] = urllib.parse.quote(text, safe="")
                        response = world.client.get(path.format(**params), headers=world.admin)
                    else:
                        response = world.client.get(path.replace("{", "").replace("}", ""), headers=world.admin,
                                                    params={parameter["name"]: text})
                    _check(f"{attack} (URL)", response, False, f"GET {path} {parameter['name']}")


def test_huge_integers_in_path_and_query_parameters(world: World, spec: dict[str, Any]) -> None:
    """Ids and limits past SQLite's 64-bit integers are refused, never a database error."""
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path == "/api/stream":
                continue
            for parameter in operation.get("parameters", []):
                if _resolve(spec, parameter["schema"]).get("type") != "integer":
                    continue
                for attack, number in HUGE_INTEGERS.items():
                    params = {p["name"]: "1" for p in operation["parameters"] if p["in"] == "path"}
                    query = {}
                    if parameter["in"] == "path":
                        params[parameter["name"]] = str(number)
                    else:
                        query[parameter["name"]] = str(number)
                    case = CASES.get((method.upper(), path))
                    body = case.body() if case else None
                    response = world.client.request(method.upper(), path.format(**params), params=query,
                                                    json=body, headers=world.admin)
                    code = response.status_code
                    if method == "get" and 200 <= code < 300:
                        _log.attempted(f"integer {attack} (URL)", False)
                        continue  # e.g. a limit: nothing matched, nothing broke
                    _check(f"integer {attack} (URL)", response, True, f"{method.upper()} {path} {parameter['name']}")


def test_non_finite_far_and_huge_numbers_in_every_number_field(world: World, spec: dict[str, Any]) -> None:
    for method, path, operation in _json_writes(spec):
        case = CASES[(method, path)]
        for at in _fields(spec, operation, "number"):
            where = f"{method} {path} {'.'.join(map(str, at))}"
            for attack, number in NON_FINITE.items():
                # json.dumps writes NaN and Infinity as JavaScript does; the hub must not take them.
                response, _ = _send(world, method, path, case, json.dumps(_put(case.body(), at, number)))
                _check(attack, response, True, where)
            for attack, far in {**FAR, **HUGE_INTEGERS}.items():
                response, _ = _send(world, method, path, case, _put(case.body(), at, far))
                _check(f"number {attack}", response, False, where)
    _reads_still_answer(world, spec)


def test_malformed_bodies_on_every_write_route(world: World, spec: dict[str, Any]) -> None:
    deep_array = "[" * NESTING + "]" * NESTING
    deep_object = '{"a":' * NESTING + "1" + "}" * NESTING
    bodies: dict[str, str | bytes] = {
        f"{NESTING:,}-deep nested array": deep_array,
        f"{NESTING:,}-deep nested object": deep_object,
        "invalid JSON": '{"text": ',
        "invalid UTF-8": b'{"text": "\xff\xfe"}',
        "a list where an object belongs": "[1, 2, 3]",
        "1 MiB of garbage": "\u0001" * (1 << 20),
    }
    for method, path, operation in _json_writes(spec):
        case = CASES[(method, path)]
        for attack, body in bodies.items():
            response, _ = _send(world, method, path, case, body)
            _check(attack, response, True, f"{method} {path}")
        first = _fields(spec, operation, "string")[:1] or _fields(spec, operation, "number")[:1]
        for at in first:
            nested = json.dumps(_put(case.body(), at, "__deep__")).replace('"__deep__"', deep_array)
            response, _ = _send(world, method, path, case, nested)
            _check(f"{NESTING:,}-deep nested array in a field", response, True, f"{method} {path}")


def test_photo_upload_attacks(world: World) -> None:
    alert_id = world.alert("firing")
    url = f"/api/alerts/{alert_id}/photos"
    for attack, text in STRINGS.items():
        response = world.client.post(url, files={"photo": (text[:300], b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png")},
                                     headers=world.admin)
        _check(f"{attack} (file name)", response, False, f"POST {url}")
    for attack, payload in {"script as an image": SCRIPT.encode(), "empty file": b"",
                            "1 MiB of zeros": bytes(1 << 20)}.items():
        response = world.client.post(url, files={"photo": ("x.png", payload, "image/png")}, headers=world.admin)
        _check(attack, response, True, f"POST {url}")


def test_certificate_upload_attacks(world: World) -> None:
    created = world.client.post("/api/calibration/dev-a/fridge-1/checks", headers=world.admin,
                                json={"method": "ice_point", "points": [{"reference": 0.0, "probe": 0.1}]})
    assert created.status_code == 201, created.text
    url = f"/api/calibration/checks/{created.json()['check']['id']}/certificate"
    for attack, text in STRINGS.items():
        response = world.client.post(url, files={"certificate": (text[:300], b"%PDF-1.4\n%%EOF\n", "application/pdf")},
                                     headers=world.admin)
        _check(f"{attack} (file name)", response, False, f"POST {url}")
    for attack, payload in {"script as a PDF": SCRIPT.encode(), "HTML page": b"<!doctype html><html>",
                            "empty file": b"", "1 MiB of zeros": bytes(1 << 20)}.items():
        response = world.client.post(url, files={"certificate": ("x.pdf", payload, "application/pdf")},
                                     headers=world.admin)
        _check(attack, response, True, f"POST {url}")


def test_stored_script_is_escaped_on_every_page(world: World, spec: dict[str, Any]) -> None:
    """Every text field takes the script tag; then every page and section shows it only escaped."""
    alert_ids = []
    for method, path, operation in _json_writes(spec):
        case = CASES[(method, path)]
        for at in _fields(spec, operation, "string"):
            response, target = _send(world, method, path, case, _put(case.body(), at, SCRIPT))
            assert response.status_code < 500
            alert_ids += [target.params["alert_id"]] if "alert_id" in target.params else []
    html = {"Accept": "text/html", **world.admin}
    pages = ["/canteen", "/gate", "/safety", "/admin"]
    parts = {"canteen": ("tiles", "alarms", "samples"), "gate": ("gates", "alarms", "patrols"),
             "safety": ("history", "verify", "health"), "admin": ("devices", "sensors")}
    urls = pages + [f"/{view}?part={part}" for view, names in parts.items() for part in names]
    urls += [f"/alerts/{alert_id}" for alert_id in alert_ids]
    shown = 0
    for url in urls:
        response = world.client.get(url, headers=html)
        assert response.status_code == 200, (url, response.text[:300])
        accepted = SCRIPT in response.text
        _log.attempted("script tag rendered on a page", accepted)
        assert not accepted, url
        shown += ESCAPED in response.text
    assert shown >= 5  # the text is on the pages, escaped


def _reads_still_answer(world: World, spec: dict[str, Any]) -> None:
    """Stored hostile text and far numbers poison no list, report or page read afterwards."""
    for path, operations in spec["paths"].items():
        if "get" not in operations or "{" in path or path == "/api/stream":
            continue
        if any(p.get("required") for p in operations["get"].get("parameters", [])):
            continue
        response = world.client.get(path, headers=world.admin)
        assert response.status_code == ABSENT_HERE.get(path, 200), (path, response.text[:300])
    for page in ("/canteen", "/gate", "/safety", "/admin"):
        assert world.client.get(page, headers={"Accept": "text/html", **world.admin}).status_code == 200


# --- credentials that must not work -------------------------------------------------------------------------------


def _snapshot(world: World) -> str:
    """What a write could change, as the admin reads it (less the clock-driven times left to keep samples)."""
    tokens = [(t.id, t.revoked_at) for t in world.hub.accounts.tokens()]
    reads = ("/api/users", "/api/silences", "/api/calendar/overrides", "/api/alerts", "/api/audit",
             "/api/reports/signoffs")
    samples = [{k: v for k, v in record.items() if not k.endswith("_s")}
               for record in world.client.get("/api/samples", headers=world.admin).json()]
    return json.dumps([tokens, samples, *(world.client.get(url, headers=world.admin).json() for url in reads)],
                      sort_keys=True)


def test_bad_credentials_on_every_write_route_change_nothing(world: World, spec: dict[str, Any]) -> None:
    """Each request would succeed with a good token (``test_each_case_is_a_good_request``); with these, 401/403."""
    _, revoked = bearer(world.hub, Role.ADMIN)
    revoked_id = world.hub.accounts.tokens()[-1].id
    assert world.hub.accounts.revoke_token(revoked_id)
    disabled_user, disabled = bearer(world.hub, Role.ADMIN)
    world.hub.accounts.update_user(disabled_user.id, disabled=True)
    cookie_user = make_user(world.hub, Role.ADMIN, password=PASSWORD)
    cookie_client = TestClient(world.client.app, base_url="http://hub.test")
    login(cookie_client, cookie_user.username)
    credentials: dict[str, dict[str, str]] = {
        "no credentials": {},
        "wrong token": {"Authorization": "Bearer xa_" + "0" * 43},
        # Changed for real: a token that already ends in "A" must get another letter.
        "token with a character changed": {"Authorization": world.admin["Authorization"][:-1]
                                           + ("B" if world.admin["Authorization"].endswith("A") else "A")},
        "revoked token": revoked,
        "disabled account's token": disabled,
        "token in the query string": {},
    }
    targets = []
    for method, path in [(m, p) for m, p, _ in _writes(spec)]:
        case = CASES.get((method, path), Case(dict))
        params = case.target(world).params
        url = path.format(**{name: params.get(name, 1) for name in _names(path)})
        targets.append((method, path, url, json.dumps(case.body(), ensure_ascii=False)))
    before = _snapshot(world)
    for method, path, url, body in targets:
        for attack, headers in credentials.items():
            query = {"token": world.admin["Authorization"].split()[1]} if attack == "token in the query string" else {}
            response = world.client.request(method, url, content=body, params=query,
                                            headers={**JSON_HEADERS, "Authorization": "", **headers})
            accepted = response.status_code not in (401, 403)
            _log.attempted(attack, accepted)
            assert not accepted, (attack, method, path, response.status_code)
        response = cookie_client.request(method, url, content=body, headers=JSON_HEADERS)
        accepted = response.status_code != 403
        _log.attempted("session cookie without its CSRF token", accepted)
        assert not accepted, (method, path, response.status_code)
    assert _snapshot(world) == before


def _names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def test_roles_cannot_raise_themselves_through_bodies(world: World) -> None:
    """Fields a role may not set are ignored or refused; the account stays what it was."""
    first_admin = world.hub.accounts.users()[0].user.id
    for role in (Role.CANTEEN_STAFF, Role.GATEKEEPER, Role.SAFETY_OFFICER):
        user, headers = bearer(world.hub, role)
        attempts = [
            ("PATCH", "/api/me", {"role": "admin", "disabled": False, "display_name": "x"}),
            ("PATCH", f"/api/users/{user.id}", {"role": "admin"}),
            ("POST", "/api/users", {"username": f"mine-{next(_counter)}", "role": "admin"}),
            ("POST", f"/api/users/{first_admin}/password", {"new_password": "taken over now"}),
            ("POST", "/api/tokens", {"name": "x", "user_id": first_admin}),
            ("PUT", "/api/sensors/dev-a/fridge-1/limits", {"high": 30}),
        ]
        for method, url, body in attempts:
            response = world.client.request(method, url, json=body, headers=headers)
            account = world.hub.accounts.user(user.id)
            assert account is not None
            accepted = account.role is not role or (response.status_code < 300 and url != "/api/me")
            _log.attempted("a role raising itself through a request body", accepted)
            assert not accepted, (role, method, url, response.status_code, response.text[:200])


# --- server errors these attacks found, kept fixed ----------------------------------------------------------------


def test_a_refusal_of_nan_is_itself_valid_json(world: World) -> None:
    """FastAPI's 422 repeats the input; a NaN there made the refusal a 500 (hub/api/errors.py)."""
    response = world.client.post("/api/tokens", content='{"name": "x", "user_id": NaN}',
                                 headers={**JSON_HEADERS, **world.admin})
    assert response.status_code == 422
    assert response.json()["detail"][0]["input"] == "nan"


def test_a_silence_cannot_end_at_nan_or_infinity(world: World) -> None:
    """NaN or Infinity was stored as NULL: an endless silence, which the API otherwise refuses."""
    for end in ("NaN", "Infinity", "1e300"):
        response = world.client.post("/api/silences", content=f'{{"subject": "dev-a/*", "ends_at": {end}}}',
                                     headers={**JSON_HEADERS, **world.admin})
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "ends_at"], end
    assert world.client.get("/api/silences", headers=world.admin).json() == []


def test_ids_and_times_past_64_bits_are_refused_not_500(world: World) -> None:
    """SQLite raised OverflowError for ids past 2^63 − 1 and for reading times in milliseconds past it."""
    huge = 2 ** 64
    for method, url in (("GET", f"/api/alerts/{huge}"), ("DELETE", f"/api/tokens/{huge}"),
                        ("GET", f"/api/samples/{huge}"), ("DELETE", f"/api/silences/{huge}"),
                        ("GET", f"/api/audit?after_id={huge}"), ("GET", f"/alerts/{huge}"),
                        ("GET", "/api/readings?sensor=dev-a/fridge-1&until=1.3e18")):
        response = world.client.request(method, url, headers=world.admin)
        assert response.status_code == 422, (url, response.status_code)
    created = world.client.post("/api/tokens", json={"name": "x", "user_id": huge}, headers=world.admin)
    assert created.status_code == 422 and created.json()["detail"][0]["loc"] == ["body", "user_id"]
