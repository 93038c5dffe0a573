"""A loopback endpoint standing in for a group bot, for the tests that page people through it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hub.notify.http_sink import HttpSink


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink() as running:
        yield running
