"""The district's route against hostile input: authenticated per school, the site never taken from the body, bounded."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hub.district.service import create_district_app
from hub.district.settings import DistrictSettings
from hub.district.store import DistrictStore
from hub.district.wire import (
    MAX_BATCH,
    MAX_BODY_CHARS,
    MAX_KEY_CHARS,
    MAX_REQUEST_BYTES,
    RECORDS_PATH,
    SITE_HEADER,
    RecordKind,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def district(district_dsn: str) -> Iterator[tuple[TestClient, DistrictStore, dict[str, str]]]:
    store = DistrictStore(district_dsn, "setup")
    tokens = {site: store.add_site(site, site) for site in ("school-a", "school-b")}
    app = create_district_app(DistrictSettings(dsn=district_dsn, worker="api-test"))
    with TestClient(app) as client:
        yield client, store, tokens
    store.close()


def batch(*keys: str, **extra: object) -> dict[str, object]:
    return {"records": [{"kind": "reading", "key": key, "ts": 1_800_000_000.0, "body": {"value": 4.0}, **extra}
                        for key in keys]}


def headers(site: str, token: str) -> dict[str, str]:
    return {SITE_HEADER: site, "Authorization": f"Bearer {token}"}


def test_a_batch_is_confirmed_with_what_was_new(district: tuple[TestClient, DistrictStore, dict[str, str]]) -> None:
    client, store, tokens = district
    first = client.post(RECORDS_PATH, json=batch("t@1", "t@2"), headers=headers("school-a", tokens["school-a"]))
    again = client.post(RECORDS_PATH, json=batch("t@2", "t@3"), headers=headers("school-a", tokens["school-a"]))
    assert (first.status_code, first.json()) == (200, {"stored": 2, "duplicates": 0})
    assert (again.status_code, again.json()) == (200, {"stored": 1, "duplicates": 1})
    assert sorted(store.keys("school-a", RecordKind.READING)) == ["t@1", "t@2", "t@3"]


@pytest.mark.parametrize(("site", "token_of", "scheme"), [
    ("school-a", None, "Bearer"),          # no token at all
    ("school-a", "school-b", "Bearer"),    # another school's token
    ("school-c", "school-a", "Bearer"),    # a site the district does not know
    ("School A;", "school-a", "Bearer"),   # not a site id
    ("school-a", "school-a", "Basic"),     # not a bearer token
    ("", "school-a", "Bearer"),            # no site
])
def test_a_school_that_is_not_who_it_says_is_refused(district: tuple[TestClient, DistrictStore, dict[str, str]],
                                                     site: str, token_of: str | None, scheme: str) -> None:
    client, store, tokens = district
    sent = {SITE_HEADER: site} if site else {}
    if token_of is not None:
        sent["Authorization"] = f"{scheme} {tokens[token_of]}"
    response = client.post(RECORDS_PATH, json=batch("t@1"), headers=sent)
    assert response.status_code == 401
    assert store.counts("school-a") == store.counts("school-b") == {}


def test_the_site_in_a_body_is_data_not_identity(district: tuple[TestClient, DistrictStore, dict[str, str]]) -> None:
    client, store, tokens = district
    sent = batch("t@1", site="school-b")
    assert client.post(RECORDS_PATH, json=sent, headers=headers("school-a", tokens["school-a"])).status_code == 200
    assert store.counts("school-b") == {}
    assert store.counts("school-a") == {"reading": 1}


@pytest.mark.parametrize(("body", "field"), [
    ({"records": []}, "records"),
    (batch(*(f"t@{n}" for n in range(MAX_BATCH + 1))), "records"),
    (batch("x" * (MAX_KEY_CHARS + 1)), "key"),
    (batch(""), "key"),
    ({"records": [{"kind": "secret", "key": "k", "ts": 1.0, "body": {}}]}, "kind"),
    ({"records": [{"kind": "reading", "key": "k", "ts": -1.0, "body": {}}]}, "ts"),
    ({"records": [{"kind": "reading", "key": "k", "ts": "soon", "body": {}}]}, "ts"),
    ({"records": [{"kind": "reading", "key": "k", "ts": 1.0, "body": {"x": "y" * MAX_BODY_CHARS}}]}, "body"),
    ({"records": [{"kind": "reading", "key": "k", "ts": 1.0, "body": [1, 2]}]}, "body"),
    ({"records": [{"kind": "reading", "key": "k", "ts": 1.0, "body": {"value": float("nan")}}]}, "NaN"),
    ({"records": [{"kind": "reading", "key": "k", "ts": float("inf"), "body": {}}]}, "ts"),
    ({"batch": "not records"}, "records"),
])
def test_bad_batches_are_refused_naming_the_field(district: tuple[TestClient, DistrictStore, dict[str, str]],
                                                  body: dict[str, object], field: str) -> None:
    client, store, tokens = district
    sent = {**headers("school-a", tokens["school-a"]), "Content-Type": "application/json"}
    response = client.post(RECORDS_PATH, content=json.dumps(body), headers=sent)  # NaN as JavaScript writes it
    assert response.status_code == 422
    assert field in response.text
    assert store.counts("school-a") == {}


def test_a_body_is_read_only_after_the_school_is_known_and_only_up_to_its_bound(
        district: tuple[TestClient, DistrictStore, dict[str, str]]) -> None:
    client, store, tokens = district
    not_json = b"{" * 1000
    assert client.post(RECORDS_PATH, content=not_json).status_code == 401  # unauthenticated: not parsed at all
    sent = headers("school-a", tokens["school-a"])
    assert client.post(RECORDS_PATH, content=not_json, headers=sent).status_code == 422
    too_long = {**sent, "Content-Length": str(MAX_REQUEST_BYTES + 1)}
    assert client.post(RECORDS_PATH, content=b"x", headers=too_long).status_code in (400, 413)
    streamed = client.post(RECORDS_PATH, content=iter([b" " * (1 << 20)] * 65), headers=sent)
    assert streamed.status_code == 413
    assert store.counts("school-a") == {}


def test_text_that_looks_like_sql_or_html_is_stored_as_it_came(
        district: tuple[TestClient, DistrictStore, dict[str, str]]) -> None:
    client, store, tokens = district
    key = "t'); DROP TABLE records; --"
    sent = {"records": [{"kind": "event", "key": key, "ts": 1.0, "body": {"state": "<script>x</script>"}}]}
    response = client.post(RECORDS_PATH, json=sent, headers=headers("school-a", tokens["school-a"]))
    assert response.status_code == 200
    assert store.keys("school-a", RecordKind.EVENT) == [key]


@pytest.mark.parametrize("record", [
    {"kind": "event", "key": "k\u0000", "ts": 1.0, "body": {}},
    {"kind": "event", "key": "k", "ts": 1.0, "body": {"state": "open\u0000"}},
    {"kind": "event", "key": "k", "ts": 1.0, "body": {"nested": [{"a\u0000": 1}]}},
])
def test_a_nul_character_is_a_422_not_a_500(district: tuple[TestClient, DistrictStore, dict[str, str]],
                                            record: dict[str, object]) -> None:
    """PostgreSQL's text and JSONB refuse U+0000: found as a 500 from the database, now refused at the door."""
    client, store, tokens = district
    response = client.post(RECORDS_PATH, json={"records": [record]}, headers=headers("school-a", tokens["school-a"]))
    assert response.status_code == 422
    assert "NUL" in response.text
    assert store.counts("school-a") == {}


def alarm_batch(body: dict[str, object]) -> dict[str, object]:
    return {"records": [{"kind": "alarm", "key": "7/firing/1.0", "ts": 1.0, "body": body}]}


@pytest.mark.parametrize(("body", "field"), [
    ({"id": "seven", "state": "firing", "updated_at": 1.0}, "body.id"),
    ({"id": True, "state": "firing", "updated_at": 1.0}, "body.id"),
    ({"id": 2**63, "state": "firing", "updated_at": 1.0}, "body.id"),
    ({"state": "firing", "updated_at": 1.0}, "body.id"),
    ({"id": 7, "state": "x" * 100, "updated_at": 1.0}, "body.state"),
    ({"id": 7, "state": None, "updated_at": 1.0}, "body.state"),
    ({"id": 7, "state": "firing", "updated_at": "soon"}, "body.updated_at"),
    ({"id": 7, "state": "firing", "updated_at": 1e300}, "body.updated_at"),
])
def test_a_malformed_alarm_record_is_refused_naming_the_field(
        district: tuple[TestClient, DistrictStore, dict[str, str]], body: dict[str, object], field: str) -> None:
    """Found as one bad alarm body failing its cast in the queue and holding up every school's alarms."""
    client, store, tokens = district
    response = client.post(RECORDS_PATH, json=alarm_batch(body), headers=headers("school-a", tokens["school-a"]))
    assert response.status_code == 422
    assert field in response.text
    assert store.counts("school-a") == {}
    good = {"id": 7, "state": "firing", "updated_at": 1.0, "message": "冷藏柜温度超出上限"}
    response = client.post(RECORDS_PATH, json=alarm_batch(good), headers=headers("school-a", tokens["school-a"]))
    assert response.status_code == 200
