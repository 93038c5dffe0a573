"""A hub without a broker whose visitor book runs on a clock the test moves; gate events go through the pipeline."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge import wire
from hub.auth.roles import Role
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from hub.visitors.kinds import IdType
from hub.visitors.store import NewVisit
from tests.clock import Clock, local
from tests.hub.auth_helpers import make_user

#: A Monday in term: the default gate windows run 06:30–18:30 (closing at 18:30).
MONDAY = "2026-10-12"


@pytest.fixture
def clock() -> Clock:
    return Clock(local(f"{MONDAY} 07:00"))


@pytest.fixture
def make_hub(tmp_path: Path, clock: Clock) -> Iterator[Callable[..., Hub]]:
    hubs: list[Hub] = []

    def build(**visitors: object) -> Hub:
        config = HubConfig.model_validate({"alarm_delay_s": 0, "visitors": visitors})
        hub = Hub(HubSettings(home=tmp_path / f"home-{len(hubs)}", rules=config), connect_mqtt=False)
        hub.visitors.clock = clock
        hub.gate.clock = clock
        # The book watches after-hours openings from the test's morning on.
        hub.visitors.store.set_meta("openings_judged", repr(clock() - 3600))
        hubs.append(hub)
        return hub

    yield build
    for hub in hubs:
        hub.stop()


@pytest.fixture
def hub(make_hub: Callable[..., Hub]) -> Hub:
    return make_hub()


class People:
    """The accounts a school's gate register names: a gatekeeper, a teacher heading 三年级2班, a safety officer."""

    def __init__(self, hub: Hub) -> None:
        self.gatekeeper = make_user(hub, Role.GATEKEEPER, "gate-zhang", display_name="门卫老张")
        self.teacher = make_user(hub, Role.TEACHER, "li-laoshi", display_name="李老师")
        self.other_teacher = make_user(hub, Role.TEACHER, "wang-laoshi", display_name="王老师")
        self.officer = make_user(hub, Role.SAFETY_OFFICER, "officer-chen", display_name="陈主任")
        self.manager = make_user(hub, Role.CANTEEN_MANAGER, "manager-zhao", display_name="赵经理")
        hub.accounts.set_phone(self.teacher.id, "+8613900001111")
        hub.visitors.set_classes(self.teacher.username, ["三年级2班"], actor=self.officer)
        hub.visitors.set_classes(self.other_teacher.username, ["五年级1班"], actor=self.officer)


@pytest.fixture
def people(hub: Hub) -> People:
    return People(hub)


def visitor(name: str = "张建国", phone: str = "13812345678", host: str = "", plate: str = "",
            organisation: str = "鲜丰蔬菜配送") -> NewVisit:
    return NewVisit(name, phone, organisation, host, "送菜", 1, plate, IdType.RESIDENT_ID, "123X")


def gate_event(hub: Hub, state: str, ts: float, seq: int, device: str = "gate-node") -> None:
    """The main gate opening or closing, through the real pipeline (the gate duty judges it)."""
    status = {"state": "online", "boot_id": "b", "ts": ts, "sensors": [
        {"sensor": "main-gate", "kind": "gate", "name": "南大门"}]}
    event = {"device": device, "boot_id": "b", "seq": seq, "ts": ts, "sensor": "main-gate", "kind": "gate",
             "state": state}
    hub.pipeline.process([Inbound(wire.topic("s", device, wire.Channel.STATUS), json.dumps(status).encode(), 1, 1,
                                  0.0),
                          Inbound(wire.topic("s", device, wire.Channel.EVENT), json.dumps(event).encode(), seq + 1,
                                  1, 0.0)])

