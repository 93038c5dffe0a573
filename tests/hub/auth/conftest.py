from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.auth.credentials import Passwords
from hub.runtime import Hub
from hub.settings import HubSettings

#: Cheaper argon2id parameters than the hub's own, so tests that hash many passwords stay quick.
FAST = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    running = Hub(HubSettings(home=tmp_path), connect_mqtt=False)
    running.accounts.passwords = Passwords(FAST)
    yield running
    running.stop()


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    """A client with no credentials at all."""
    with TestClient(create_app(hub.settings, hub=hub)) as test_client:
        yield test_client
