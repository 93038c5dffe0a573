"""The append-only, hash-chained audit log: who changed what, and proof nobody rewrote it.

Each entry's hash covers its content and the previous entry's hash, so changing or
deleting any entry breaks every hash after it; SQLite triggers refuse UPDATE and
DELETE on the table, so a change needs deliberate tampering with the file, which
``xiaoan audit verify`` then detects. (Cutting entries off the *end* leaves a valid
shorter chain: the weekly report prints the head hash, which anchors it on paper.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


@dataclass(frozen=True)
class AuditEntry:
    ts: float
    actor: str
    action: str
    subject: str
    detail: str  # canonical JSON
    prev_hash: str = GENESIS
    hash: str = ""
    id: int | None = None


def canonical(detail: Mapping[str, Any]) -> str:
    return json.dumps(detail, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(prev_hash: str, ts: float, actor: str, action: str, subject: str, detail: str) -> str:
    material = "\x1f".join([prev_hash, repr(float(ts)), actor, action, subject, detail])
    return hashlib.sha256(material.encode()).hexdigest()


def chain(prev_hash: str, ts: float, actor: str, action: str, subject: str,
          detail: Mapping[str, Any]) -> AuditEntry:
    """The next entry after ``prev_hash``."""
    text = canonical(detail)
    return AuditEntry(ts, actor, action, subject, text, prev_hash,
                      entry_hash(prev_hash, ts, actor, action, subject, text))


def verify_chain(entries: Iterable[AuditEntry]) -> list[str]:
    """Problems found walking the chain from the start (empty: intact)."""
    problems: list[str] = []
    expected_prev = GENESIS
    last_id = 0
    for entry in entries:
        if entry.id is not None and entry.id != last_id + 1:
            # The link across a gap cannot be checked: the missing entries are the finding.
            problems.append(f"entries {last_id + 1}..{entry.id - 1} are missing")
        elif entry.prev_hash != expected_prev:
            problems.append(f"entry {entry.id}: does not follow the entry before it (chain broken)")
        recomputed = entry_hash(entry.prev_hash, entry.ts, entry.actor, entry.action, entry.subject, entry.detail)
        if recomputed != entry.hash:
            problems.append(f"entry {entry.id}: content does not match its hash (altered)")
        expected_prev = entry.hash
        last_id = entry.id if entry.id is not None else last_id + 1
    return problems
