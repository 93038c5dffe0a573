"""The school hub's link to its district: a durable outbox of its own, forwarded and confirmed (docs/district.md)."""
