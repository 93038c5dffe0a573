"""One-tap links: an alarm's message reaches a real webhook with a link per person, and the link acts once.

The message goes through the hub's real dispatcher and Apprise to a loopback HTTP sink;
the test follows the link from that message with a client that has never signed in.
Time is the links' injected clock, never a sleep.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from edge import wire
from hub.app import create_app
from hub.auth.links import AlarmLinks
from hub.auth.roles import Role
from hub.http_limits import RedactSecretPaths, server_config
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubConfig, load_settings
from tests.hub.auth_helpers import PASSWORD, login, make_user
from tests.hub.notify.http_sink import HttpSink

LINK = re.compile(r"https://xiaoan\.example\.cn(/link/(\d+)/[A-Za-z0-9_-]+)")


def notify_yaml(tmp_path: Path, port: int, public_url: str | None = "https://xiaoan.example.cn") -> Path:
    path = tmp_path / "notify.yaml"
    others = "\n".join(f"  {name}:\n    always: [web]" for name in ("canteen_manager", "safety_officer",
                                                                    "gatekeeper", "admin"))
    public = f"public_url: {public_url}\n" if public_url else ""
    path.write_text(f"""{public}group_window_s: 0
channels:
  kitchen_bot: {{type: apprise, urls: ["json://127.0.0.1:{port}/kitchen"], max_chars: 2000}}
  web: {{type: web}}
routes:
  canteen:
    always: [web]
    fallback: [kitchen_bot]
    people: [wang-cook]
    roles: [canteen_manager]
{others}
""", encoding="utf-8")
    return path


def telemetry(device: str, seq: int, value: float, ts: float) -> Inbound:
    body = {"device": device, "boot_id": "b", "seq": seq, "readings": [
        {"sensor": "fridge-1", "kind": "temperature", "value": value, "unit": "°C", "ts": ts}]}
    return Inbound(wire.topic("s", device, wire.Channel.TELEMETRY), json.dumps(body).encode(), seq, 1, 0.0)


def status(device: str) -> Inbound:
    body = {"state": "online", "boot_id": "b", "ts": 1.0, "sensors": [
        {"sensor": "fridge-1", "kind": "temperature", "profile": "fridge", "name": "冷藏冰箱 1 号"}]}
    return Inbound(wire.topic("s", device, wire.Channel.STATUS), json.dumps(body).encode(), 1, 1, 0.0)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink() as running:
        yield running


def make_hub(tmp_path: Path, sink: HttpSink, public_url: str | None = "https://xiaoan.example.cn") -> Hub:
    settings = load_settings(home=tmp_path / "home", notify_config=notify_yaml(tmp_path, sink.port, public_url))
    settings = settings.model_copy(update={"rules": HubConfig.model_validate({"alarm_delay_s": 0})})
    return Hub(settings, connect_mqtt=False)


@pytest.fixture
def hub(tmp_path: Path, sink: HttpSink) -> Iterator[Hub]:
    running = make_hub(tmp_path, sink)
    make_user(running, Role.CANTEEN_STAFF, "wang-cook", password=PASSWORD, display_name="王师傅")
    make_user(running, Role.CANTEEN_MANAGER, "li-manager", password=PASSWORD, display_name="李经理")
    running.links.clock = Clock(10_000.0)
    yield running
    running.stop()


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings, hub=hub), base_url="https://xiaoan.example.cn") as test_client:
        yield test_client


def alarm(hub: Hub, sink: HttpSink, device: str = "dev-a") -> tuple[int, dict[str, str]]:
    """A fridge too warm on ``device``; the message the webhook got, as person → link path."""
    before = len(sink.received)
    hub.pipeline.process([status(device), telemetry(device, 1, 9.5, 1000.0)])
    worker = hub.notifications.worker
    assert worker is not None
    worker.dispatcher.pump()
    assert len(sink.received) == before + 1
    text = json.loads(sink.received[-1].body)["message"]
    (line,) = [line for line in text.splitlines() if "/link/" in line]
    links = {name: path for name, path in re.findall(r"([^\s：]+) https://xiaoan\.example\.cn(/link/\d+/\S+)", line)}
    (alert_id,) = {int(m[1]) for m in LINK.findall(line)}
    return alert_id, links


def use(client: TestClient, path: str) -> str:
    """Open a link and press its button, as a phone would; returns the alarm page."""
    opened = client.get(path)
    assert opened.status_code == 200, opened.text
    assert "打开报警" in opened.text
    used = client.post(path, follow_redirects=False)
    assert used.status_code == 303, used.text
    page: str = client.get(used.headers["location"]).text
    return page


def form_csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    assert found
    return found.group(1)


def test_the_message_carries_a_link_per_person_and_one_acknowledges_without_signing_in(
        hub: Hub, sink: HttpSink, client: TestClient) -> None:
    alert_id, links = alarm(hub, sink)
    assert set(links) == {"王师傅", "李经理"}
    page = use(client, links["王师傅"])
    assert "王师傅" in page and "确认 · Acknowledge" in page
    done = client.post(f"/link/{alert_id}/acknowledge", data={"csrf_token": form_csrf(page), "text": "已转移食物"})
    assert done.status_code == 200 and "已确认 · Acknowledged" in done.text
    alert = hub.state.alert(alert_id)
    assert alert is not None and alert.acked_by == "wang-cook" and alert.data.get("via") == "link"
    (entry,) = [e for e in hub.state.audit_entries() if e.action == "acknowledge"]
    assert entry.actor == "wang-cook" and json.loads(entry.detail)["via"] == "link"
    # An interim action too, as the same person.
    page = client.get(f"/link/{alert_id}").text
    recorded = client.post(f"/link/{alert_id}/actions", data={"csrf_token": form_csrf(page), "text": "通知维修"})
    assert recorded.status_code == 200 and "通知维修" in recorded.text
    (action,) = hub.state.alert_actions([alert_id])[alert_id]
    assert action.who == "wang-cook"


def test_a_link_works_once(hub: Hub, sink: HttpSink, client: TestClient) -> None:
    _, links = alarm(hub, sink)
    use(client, links["李经理"])
    again = TestClient(client.app, base_url="https://xiaoan.example.cn")
    assert again.get(links["李经理"]).status_code == 410
    refused = again.post(links["李经理"], follow_redirects=False)
    assert refused.status_code == 410 and "已经用过" in refused.text and "used already" in refused.text


def test_an_expired_link_is_refused(hub: Hub, sink: HttpSink, client: TestClient) -> None:
    _, links = alarm(hub, sink)
    clock = hub.links.clock
    assert isinstance(clock, Clock)
    clock.now += hub.links.ttl_s
    refused = client.post(links["王师傅"], follow_redirects=False)
    assert refused.status_code == 410 and "已过期" in refused.text and "expired" in refused.text


def test_a_link_for_one_alarm_cannot_open_or_act_on_another(hub: Hub, sink: HttpSink, client: TestClient) -> None:
    first, links = alarm(hub, sink, "dev-a")
    second, _ = alarm(hub, sink, "dev-b")
    token = links["王师傅"].rsplit("/", 1)[1]
    refused = client.post(f"/link/{second}/{token}", follow_redirects=False)
    assert refused.status_code == 403 and "another alarm" in refused.text
    # Used for its own alarm, its cookie is for that alarm's pages only.
    page = use(client, links["王师傅"])
    assert client.get(f"/link/{second}").status_code == 403
    acted = client.post(f"/link/{second}/acknowledge", data={"csrf_token": form_csrf(page)})
    assert acted.status_code == 403
    other = hub.state.alert(second)
    assert other is not None and other.acked_at is None
    assert first != second


def test_a_link_opened_in_another_accounts_browser_is_refused_and_spent(
        hub: Hub, sink: HttpSink, client: TestClient) -> None:
    _, links = alarm(hub, sink)
    login(client, "li-manager")
    refused = client.post(links["王师傅"], follow_redirects=False)
    assert refused.status_code == 403 and "someone else" in refused.text
    fresh = TestClient(client.app, base_url="https://xiaoan.example.cn")
    assert fresh.post(links["王师傅"], follow_redirects=False).status_code == 410


def test_a_link_cannot_close_verify_or_reach_other_pages(hub: Hub, sink: HttpSink, client: TestClient) -> None:
    alert_id, links = alarm(hub, sink)
    use(client, links["王师傅"])
    for path in (f"/api/alerts/{alert_id}/close", f"/api/alerts/{alert_id}/verify",
                 f"/api/alerts/{alert_id}/acknowledge"):
        assert client.post(path, json={"text": "x"}).status_code == 401
    assert client.get(f"/api/alerts/{alert_id}").status_code == 401
    assert client.get(f"/alerts/{alert_id}", follow_redirects=False).status_code in (303, 401)


def test_the_link_form_needs_its_csrf_token(hub: Hub, sink: HttpSink, client: TestClient) -> None:
    alert_id, links = alarm(hub, sink)
    use(client, links["王师傅"])
    assert client.post(f"/link/{alert_id}/acknowledge", data={"csrf_token": "0" * 64}).status_code == 403
    alert = hub.state.alert(alert_id)
    assert alert is not None and alert.acked_at is None


def test_only_digests_of_tokens_are_stored(hub: Hub, sink: HttpSink) -> None:
    _, links = alarm(hub, sink)
    token = links["王师傅"].rsplit("/", 1)[1]
    raw = (hub.settings.db_dir / "hub.sqlite3").read_bytes()
    assert token.encode() not in raw


def test_without_a_public_address_the_message_says_where_to_sign_in(tmp_path: Path, sink: HttpSink) -> None:
    running = make_hub(tmp_path, sink, public_url=None)
    try:
        make_user(running, Role.CANTEEN_STAFF, "wang-cook", display_name="王师傅")
        running.pipeline.process([status("dev-a"), telemetry("dev-a", 1, 9.5, 1000.0)])
        assert running.notifications.worker is not None
        running.notifications.worker.dispatcher.pump()
        text = json.loads(sink.received[-1].body)["message"]
        assert "/link/" not in text and re.search(r"请确认 #\d+：http://127\.0\.0\.1:8000/alerts/\d+", text)
    finally:
        running.stop()


def test_the_access_log_never_shows_a_token(hub: Hub) -> None:
    server_config(create_app(hub.settings, hub=hub), hub.settings)
    access = logging.getLogger("uvicorn.access")
    assert any(isinstance(f, RedactSecretPaths) for f in access.filters)
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/link/12/abcDEF_123-xyz?lang=en", "1.1", 200), None)
    for found in access.filters:
        assert not isinstance(found, logging.Filter) or found.filter(record)
    assert "abcDEF" not in record.getMessage() and "/link/12/…?lang=en" in record.getMessage()


def test_links_expire_and_are_pruned(tmp_path: Path, hub: Hub) -> None:
    links: AlarmLinks = hub.links
    user = hub.accounts.user_by_name("wang-cook")
    assert user is not None
    token = links.mint(7, user.id)
    assert links.check(7, token).user.username == "wang-cook"
    clock = links.clock
    assert isinstance(clock, Clock)
    clock.now += links.ttl_s + 1
    assert links.prune() == 1
