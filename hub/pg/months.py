"""Calendar months (UTC) as the time ranges tables are partitioned by: a month is dropped whole when it expires.

The district's readings and a school hub's PostgreSQL series are both partitioned this way.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from psycopg import sql

from hub.pg.pool import Connection


def month_of(ts: float) -> dt.date:
    """The first day of the (UTC) month holding ``ts`` (seconds): the partition a row of that time lives in."""
    when = dt.datetime.fromtimestamp(ts, dt.UTC)
    return dt.date(when.year, when.month, 1)


def month_span(month: dt.date) -> tuple[float, float]:
    """The month's start and end (seconds), end excluded."""
    start = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)
    end = dt.datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=dt.UTC)
    return start.timestamp(), end.timestamp()


@dataclass(frozen=True)
class MonthPartitions:
    """A table partitioned by month, its partitions named ``<table>_YYYYMM``: made, listed, named."""

    table: str

    def name(self, month: dt.date) -> str:
        return f"{self.table}_{month:%Y%m}"

    def make(self, db: Connection, month: dt.date, start: float, end: float) -> None:
        """The partition of ``month`` holding ``[start, end)`` in the table's own unit, unless it exists."""
        db.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
            sql.Identifier(self.name(month)), sql.Identifier(self.table), sql.Literal(start), sql.Literal(end)))

    def months(self, db: Connection) -> list[dt.date]:
        """The months that have a partition, oldest first (a partition not named as a month is not one)."""
        names = [str(row[0]) for row in db.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass", (self.table,)).fetchall()]
        pattern = re.compile(rf"^{re.escape(self.table)}_(\d{{6}})$")
        return sorted(dt.datetime.strptime(found.group(1), "%Y%m").date()
                      for found in map(pattern.match, names) if found)
