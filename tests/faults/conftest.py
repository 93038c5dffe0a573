"""Fault-test fixtures: a broker of the test's own (it gets killed and restarted) and edge processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.broker import Account, MosquittoBroker
from tests.faults.harness import EdgeProcess


@pytest.fixture
def own_broker(tmp_path: Path, accounts: dict[str, Account]) -> Iterator[MosquittoBroker]:
    broker = MosquittoBroker(tmp_path / "own-broker", list(accounts.values()))
    broker.write_files()
    yield broker
    broker.stop()


@pytest.fixture
def edges(tmp_path: Path, accounts: dict[str, Account]) -> Iterator[Callable[..., EdgeProcess]]:
    """Build edge processes (not started); any still running at teardown are stopped."""
    built: list[EdgeProcess] = []

    def build(broker: MosquittoBroker, device: str, **extra: Any) -> EdgeProcess:
        edge = EdgeProcess(tmp_path, broker, accounts[device], **extra)
        built.append(edge)
        return edge

    yield build
    for edge in built:
        edge.stop()
