"""The readings' database away (PostgreSQL as the series store): a 503 that says so, and the rest of the hub answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.broker import free_port
from hub.runtime import Hub
from hub.settings import HubSettings
from tests.hub.auth_helpers import authorize


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    dsn = f"host=127.0.0.1 port={free_port('127.0.0.1')} user=xiaoan dbname=school connect_timeout=2"
    hub = Hub(HubSettings(home=tmp_path, store="postgresql", postgres_dsn=dsn), connect_mqtt=False)
    try:
        with TestClient(create_app(hub.settings, hub=hub)) as test_client:
            authorize(test_client, hub)
            yield test_client
    finally:
        hub.stop()


def test_readings_answer_503_with_retry_after_and_the_devices_still_answer(client: TestClient) -> None:
    answer = client.get("/api/readings", params={"sensor": "dev-a/fridge-1"})
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "30"
    assert "读数数据库暂时无法连接" in answer.json()["detail"]
    assert client.get("/api/devices").status_code == 200
