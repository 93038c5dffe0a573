"""A few open PostgreSQL connections shared by one process's threads."""

from __future__ import annotations

import queue
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

Connection = psycopg.Connection[tuple[object, ...]]
#: Connections a process keeps open for its routes and duties.
POOL_SIZE = 8


class Connections:
    """Connections in autocommit mode (a transaction is ``db.transaction()``).

    A broken one is dropped; a new one is opened when none is idle.
    """

    def __init__(self, dsn: str, size: int = POOL_SIZE, connect_timeout_s: int = 5,
                 options: Mapping[str, str | int] | None = None) -> None:
        """``options``: libpq connection parameters (keepalives, ``options`` for session settings) used
        where ``dsn`` does not set them itself: what a site wrote in its DSN wins."""
        self._conninfo = make_conninfo("", **{**(options or {}), **conninfo_to_dict(dsn)})
        self._connect_timeout_s = connect_timeout_s
        self._idle: queue.LifoQueue[Connection] = queue.LifoQueue(maxsize=size)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        try:
            db = self._idle.get_nowait()
        except queue.Empty:
            db = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=self._connect_timeout_s)
        try:
            yield db
        except BaseException:
            if db.closed or db.broken:
                db.close()
                # The server went away: the idle connections went with it. Each would fail once more.
                self.close()
                raise
            self._give_back(db)
            raise
        self._give_back(db)

    def _give_back(self, db: Connection) -> None:
        try:
            self._idle.put_nowait(db)
        except queue.Full:
            db.close()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
