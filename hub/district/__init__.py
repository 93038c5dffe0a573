"""The district service: school hubs forward their records here, kept in PostgreSQL (docs/district.md).

Nothing of a school hub imports this package's PostgreSQL modules: a single school runs
without PostgreSQL installed. ``hub.district.wire`` (the forwarded batch) is the one
module both sides share, and it needs pydantic only.
"""
