"""The district tests' database: a new empty one per test, in the session's PostgreSQL (tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def district_dsn(postgres_database: str) -> str:
    """A new empty database for this test."""
    return postgres_database
