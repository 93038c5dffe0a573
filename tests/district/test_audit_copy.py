"""The school's audit log at the district, on a real PostgreSQL: forwarded once, checked link by link, and an anchor
the school cannot rewrite afterwards."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from hub import audit
from hub.district.inspectors import add_inspector
from hub.district.service import create_district_app
from hub.district.settings import DistrictSettings
from hub.district.store import DistrictStore
from hub.district.wire import ForwardedRecord, RecordKind, audit_key
from hub.forward.component import DistrictForward
from hub.forward.records import audit_record
from hub.forward.settings import DistrictLink
from hub.store.state import StateStore
from tests.district.helpers import StoreTransport

pytestmark = pytest.mark.postgres

SITE = "school-a"
AT = 1_800_000_000.0


@dataclass
class Setup:
    client: TestClient
    district: DistrictStore
    school: StateStore
    link: DistrictForward
    tokens: dict[str, str]

    def copy(self, **params: str) -> dict[str, object]:
        """The county inspector's reading of the school's audit copy."""
        answer = self.client.get(f"/district/v1/schools/{SITE}/audit", params=params,
                                 headers={"Authorization": f"Bearer {self.tokens['county']}"})
        assert answer.status_code == 200, answer.text
        result: dict[str, object] = answer.json()
        return result

    def forward(self) -> None:
        self.link.tick(AT)
        assert self.link.outbox.depth() == 0


@pytest.fixture
def setup(tmp_path: Path, district_dsn: str) -> Iterator[Setup]:
    district = DistrictStore(district_dsn, "setup")
    tokens = {SITE: district.add_site(SITE, "第一小学"), "school-b": district.add_site("school-b", "第二中学")}
    tokens["county"] = add_inspector(district, "county", "区教育局食安科", [], all_sites=True)
    tokens["inspector-b"] = add_inspector(district, "inspector-b", "王督学", ["school-b"])
    school = StateStore(tmp_path / "hub.sqlite3")
    link = DistrictLink(enabled=True, site=SITE, urls=("http://district.invalid",), token=tokens[SITE])
    forward = DistrictForward(link, tmp_path, transport=StoreTransport(district, SITE), logs=school)
    with TestClient(create_district_app(DistrictSettings(dsn=district_dsn, worker="api-test"))) as client:
        yield Setup(client, district, school, forward, tokens)
    forward.close()
    school.close()
    district.close()


def write(school: StateStore, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        school.append_audit(AT + i, "wang", "sample.logged", f"sample/2026-12-0{1 + i % 9}/lunch",
                            {"dish": f"番茄炒蛋 {i}", "weight_g": 130 + i, "note": "=HYPERLINK(\"x\")\n<b>"})


def test_every_audit_entry_reaches_the_district_once_and_the_copy_checks_out(setup: Setup) -> None:
    write(setup.school, 5)
    assert setup.link.forward_logs() == 5
    assert setup.link.forward_logs() == 0  # the cursor moved with the records: nothing is read twice
    setup.forward()
    write(setup.school, 3, start=5)
    setup.forward()
    setup.forward()  # nothing new: nothing sent

    keys = setup.district.keys(SITE, RecordKind.AUDIT)
    assert sorted(keys) == [audit_key(i) for i in range(1, 9)]
    head = setup.school.audit_entries()[-1]
    copy = setup.copy()
    assert copy == {"entries": 8, "last_id": 8, "last_hash": head.hash, "last_at": head.ts, "intact": True,
                    "problems": [], "hash_at_id": None}
    # The head a school printed on its signed weekly report is found in the copy; a made-up one is not.
    assert setup.copy(hash=head.hash)["hash_at_id"] == 8
    assert setup.copy(hash="0" * 63 + "1")["hash_at_id"] is None


def test_a_chain_the_school_rewrites_after_forwarding_no_longer_follows_the_district_s_copy(setup: Setup) -> None:
    """Someone with the school's database file rewrites three entries and re-hashes the chain so that the school's
    own check passes. The district kept what it received; the school's next entry does not follow it."""
    write(setup.school, 5)
    setup.forward()
    path = Path(setup.school.path)
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER audit_no_update")
        rows = db.execute("SELECT id, ts, actor, action, subject, detail FROM audit ORDER BY id").fetchall()
        prev = audit.GENESIS
        for entry_id, ts, actor, action, subject, written in rows:
            # From the third on, a short sample is made full weight.
            detail = audit.canonical({"dish": "番茄炒蛋", "weight_g": 125}) if entry_id >= 3 else written
            digest = audit.entry_hash(prev, ts, actor, action, subject, detail)
            db.execute("UPDATE audit SET detail = ?, prev_hash = ?, hash = ? WHERE id = ?",
                       (detail, prev, digest, entry_id))
            prev = digest
    assert audit.verify_chain(setup.school.audit_entries()) == []  # the school's own check is fooled

    write(setup.school, 1, start=5)
    setup.forward()
    copy = setup.copy()
    assert copy["entries"] == 6 and copy["intact"] is False
    assert copy["problems"] == ["entry 6: does not follow the entry before it (chain broken)"]
    # The district still holds the entries as first forwarded.
    rewritten_head = setup.school.audit_entries()[4].hash
    assert setup.copy(hash=rewritten_head)["hash_at_id"] is None


def test_entries_missing_between_others_are_named(setup: Setup) -> None:
    write(setup.school, 4)
    entries = setup.school.audit_entries()
    setup.district.store(SITE, tuple(audit_record(e) for e in entries if e.id != 2))
    copy = setup.copy()
    assert copy["intact"] is False and copy["problems"] == ["entries 2..2 are missing"]


def test_the_copy_is_read_within_the_inspector_s_schools_only(setup: Setup) -> None:
    write(setup.school, 1)
    setup.forward()
    headers = {"Authorization": f"Bearer {setup.tokens['inspector-b']}"}
    assert setup.client.get(f"/district/v1/schools/{SITE}/audit", headers=headers).status_code == 403
    assert setup.client.get("/district/v1/schools/school-z/audit", headers=headers).status_code == 403
    county = {"Authorization": f"Bearer {setup.tokens['county']}"}
    assert setup.client.get("/district/v1/schools/school-z/audit", headers=county).status_code == 404
    school_token = {"Authorization": f"Bearer {setup.tokens[SITE]}"}
    assert setup.client.get(f"/district/v1/schools/{SITE}/audit", headers=school_token).status_code == 401
    bad = setup.client.get(f"/district/v1/schools/{SITE}/audit", params={"hash": "<b>"}, headers=county)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "hash"]


def test_an_audit_record_must_carry_what_its_hash_covers() -> None:
    body = {"id": 7, "ts": AT, "actor": "wang", "action": "sample.logged", "subject": "sample/1",
            "detail": "{}", "prev_hash": "a" * 64, "hash": "b" * 64}
    ForwardedRecord(kind=RecordKind.AUDIT, key=audit_key(7), ts=AT, body=body)
    with pytest.raises(ValidationError, match="audit key"):
        ForwardedRecord(kind=RecordKind.AUDIT, key="7", ts=AT, body=body)
    with pytest.raises(ValidationError, match=r"audit body\.detail"):
        ForwardedRecord(kind=RecordKind.AUDIT, key=audit_key(7), ts=AT, body={**body, "detail": {}})
    with pytest.raises(ValidationError, match=r"audit body\.hash"):
        ForwardedRecord(kind=RecordKind.AUDIT, key=audit_key(7), ts=AT, body={**body, "hash": "<b>"})
