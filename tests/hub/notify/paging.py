"""What the paging and rota tests share: a hub paging a loopback bot, its people, and a warm fridge."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from edge import wire
from hub.auth.roles import Role
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubConfig, load_settings
from tests.hub.auth_helpers import make_user
from tests.hub.notify.http_sink import HttpSink


def notify_yaml(tmp_path: Path, port: int, routes: str) -> Path:
    """A notify config with one bot at the sink (``bot``), the web channel, and ``routes`` (YAML, indented)."""
    path = tmp_path / "notify.yaml"
    path.write_text(f"""public_url: https://xiaoan.example.cn
group_window_s: 0
channels:
  bot: {{type: apprise, urls: ["json://127.0.0.1:{port}/bot"], max_chars: 2000}}
  web: {{type: web}}
routes:
{routes}
""", encoding="utf-8")
    return path


def paging_hub(tmp_path: Path, sink: HttpSink, routes: str, people: Iterable[tuple[str, Role, str]],
               rules: dict[str, Any] | None = None) -> Hub:
    """A hub without a broker whose routes page the sink, with these accounts (name, role, shown name)."""
    settings = load_settings(home=tmp_path / "home", notify_config=notify_yaml(tmp_path, sink.port, routes))
    config = HubConfig.model_validate({"alarm_delay_s": 0, **(rules or {})})
    hub = Hub(settings.model_copy(update={"rules": config}), connect_mqtt=False)
    for name, role, shown in people:
        make_user(hub, role, name, display_name=shown)
    return hub


def paged(sink: HttpSink, since: int) -> list[set[str]]:
    """For each message since ``since``: the names whose one-tap links it carried."""
    return [set(re.findall(r"([^\s：·]+) https://xiaoan\.example\.cn/link/", json.loads(r.body)["message"]))
            for r in sink.received[since:]]


def fridge_too_warm(hub: Hub, at: float) -> None:
    """A fridge announced and read at 9.5 °C at ``at``, through the real pipeline."""
    status = {"state": "online", "boot_id": "b", "ts": at, "sensors": [
        {"sensor": "fridge-1", "kind": "temperature", "profile": "fridge", "name": "冷藏冰箱 1 号"}]}
    reading = {"device": "dev-a", "boot_id": "b", "seq": 1, "readings": [
        {"sensor": "fridge-1", "kind": "temperature", "value": 9.5, "unit": "°C", "ts": at}]}
    hub.pipeline.process([
        Inbound(wire.topic("s", "dev-a", wire.Channel.STATUS), json.dumps(status).encode(), 1, 1, 0.0),
        Inbound(wire.topic("s", "dev-a", wire.Channel.TELEMETRY), json.dumps(reading).encode(), 1, 1, 0.0)])
