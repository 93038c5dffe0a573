"""A real PostgreSQL 15 for the district tests: one private cluster per session, one database per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from hub.district.pg_server import PostgresServer

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """Debian's postgresql-15 binaries, ``initdb`` into a temp dir, on a free loopback port (never the system one).

    Without fsync: the tests kill district workers and school hubs, never PostgreSQL itself.
    """
    with PostgresServer(durable=False) as server:
        yield server


@pytest.fixture
def district_dsn(postgres: PostgresServer) -> str:
    """A new empty database for this test."""
    return postgres.create_database(f"district_{next(_numbers)}")
