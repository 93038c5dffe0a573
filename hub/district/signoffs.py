"""An inspector signs a finished week's compliance table: once, as themselves, never for someone else.

The signature is the inspector the token belongs to (never a name in the request), at
the district's time; a second signature of the same week by the same inspector is
refused, as a signed paper is not signed again. Each inspector's paper carries their
own signature, since each sees the table of their own schools.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from hub.district.inspectors import Inspector
from hub.district.store import DistrictStore


@dataclass(frozen=True)
class DistrictSignOff:
    """An inspector's signature under a week's table: who (by their account), when, what they remarked."""

    inspector: str
    display_name: str
    signed_at: float
    comment: str


class AlreadySigned(Exception):
    """This inspector has signed this week already."""


_SELECT = ("SELECT s.inspector, i.display_name, extract(epoch FROM s.signed_at), s.comment"
           " FROM district_signoffs s JOIN inspectors i ON i.name = s.inspector")


def sign_week(store: DistrictStore, who: Inspector, week: str, comment: str) -> DistrictSignOff:
    with store.pool.connection() as db:
        try:
            row = db.execute("WITH signed AS (INSERT INTO district_signoffs (week, inspector, comment)"
                             " VALUES (%s, %s, %s) RETURNING inspector, signed_at, comment)"
                             " SELECT inspector, extract(epoch FROM signed_at), comment FROM signed",
                             (week, who.name, comment)).fetchone()
        except psycopg.errors.UniqueViolation:
            raise AlreadySigned(week) from None
    assert row is not None
    return DistrictSignOff(str(row[0]), who.display_name, float(str(row[1])), str(row[2]))


def week_signoffs(store: DistrictStore, inspector: str, week: str) -> list[DistrictSignOff]:
    """The inspector's own signature of ``week``, if given (a list: empty until they sign)."""
    with store.pool.connection() as db:
        rows = db.execute(_SELECT + " WHERE s.week = %s AND s.inspector = %s", (week, inspector)).fetchall()
    return [DistrictSignOff(str(r[0]), str(r[1]), float(str(r[2])), str(r[3])) for r in rows]
