"""The provincial feed on a real PostgreSQL: a school's readings and sample records as CSV, JSON lines or a
province's own adapter, within the reader's schools, a bounded span, hostile text kept as text."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from importlib.metadata import EntryPoint
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient

from hub import audit
from hub.district import export
from hub.district.inspectors import add_inspector
from hub.district.service import create_district_app
from hub.district.settings import DistrictSettings
from hub.district.store import DistrictStore
from hub.district.wire import ForwardedRecord, RecordKind, hourly_key
from hub.forward.records import audit_record
from tests.clock import local

pytestmark = pytest.mark.postgres

SPAN = {"start": "2026-12-01T00:00:00", "end": "2026-12-02T00:00:00"}  # Beijing time, the district's zone


def reading(sensor: str, at: str, value: float | None, fault: str | None = None) -> ForwardedRecord:
    ts = local(at)
    return ForwardedRecord(kind=RecordKind.READING, key=f"{sensor}@{round(ts * 1000)}", ts=ts,
                           body={"sensor": sensor, "value": value, "fault": fault, "clock_synced": True})


def sample_entries() -> list[ForwardedRecord]:
    """Two audit entries as the school's SampleMonitor writes them: lunch logged, then discarded early."""
    prev, records = audit.GENESIS, []
    for n, (at, action, detail) in enumerate((
            ("2026-12-01 11:40", "sample.logged", {"meal": "lunch", "created": True, "dishes": [
                {"name": "番茄炒蛋", "weight_g": 130, "code": None, "short_reason": ""},
                {"name": "=HYPERLINK(\"http://x\")", "weight_g": 90, "code": None, "short_reason": "只做了一份\n另"}]}),
            ("2026-12-01 20:00", "sample.discarded", {"early": True, "note": "", "held_until": 0.0})), 1):
        entry = audit.chain(prev, local(at), "li", action, "sample/2026-12-01/lunch", detail)
        entry = audit.AuditEntry(entry.ts, entry.actor, entry.action, entry.subject, entry.detail, entry.prev_hash,
                                 entry.hash, id=n)
        records.append(audit_record(entry))
        prev = entry.hash
    return records


@pytest.fixture
def district(district_dsn: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    store = DistrictStore(district_dsn, "setup")
    tokens = {"school-a": store.add_site("school-a", "第一小学"), "school-b": store.add_site("school-b", "第二中学")}
    tokens["province"] = add_inspector(store, "province", "省平台", [], all_sites=True)
    tokens["inspector-b"] = add_inspector(store, "inspector-b", "王督学", ["school-b"])
    store.store("school-a", (
        reading("kitchen/t0", "2026-12-01 08:00", 3.5), reading("kitchen/t1", "2026-12-01 08:00", -18.2),
        reading("kitchen/t0", "2026-12-01 09:00", None, fault="=cmd|' /C calc'!A0"),
        reading("kitchen/t0", "2026-12-02 08:00", 4.0),  # the next day: outside the span
        *sample_entries()))
    app = create_district_app(DistrictSettings(dsn=district_dsn, worker="api-test"))
    with TestClient(app) as client:
        yield client, tokens
    store.close()


def feed(client: TestClient, token: str, dataset: str, **params: str) -> Any:
    return client.get(f"/district/v1/export/school-a/{dataset}", params={**SPAN, **params},
                      headers={"Authorization": f"Bearer {token}"})


def test_readings_as_csv_in_time_order_with_a_fault_kept_as_text(
        district: tuple[TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "_PAGE", 2)  # pages break between two readings of the same instant
    client, tokens = district
    answer = feed(client, tokens["province"], "readings")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="school-a-readings-202612010000.csv"' in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text.removeprefix("\ufeff"))))
    assert rows == [["site", "sensor", "time", "value", "fault"],
                    ["school-a", "kitchen/t0", "2026-12-01T08:00:00.000+08:00", "3.5", ""],
                    ["school-a", "kitchen/t1", "2026-12-01T08:00:00.000+08:00", "-18.2", ""],
                    ["school-a", "kitchen/t0", "2026-12-01T09:00:00.000+08:00", "", "'=cmd|' /C calc'!A0"]]


def hour(sensor: str, at: str, count: int, mean: float) -> ForwardedRecord:
    start = local(at)
    return ForwardedRecord(kind=RecordKind.HOURLY, key=hourly_key(sensor, start, count), ts=start,
                           body={"sensor": sensor, "hour": start, "count": count, "faults": 0, "min": mean - 1,
                                 "max": mean + 1, "mean": mean})


def test_hours_as_csv_the_fullest_of_an_hour_summed_up_again(district_dsn: str, monkeypatch: pytest.MonkeyPatch,
                                                             district: tuple[TestClient, dict[str, str]]) -> None:
    """An hour made again with late readings is a second record; the feed gives the one with the most readings."""
    monkeypatch.setattr(export, "_PAGE", 1)  # an hour's versions split across pages
    client, tokens = district
    store = DistrictStore(district_dsn, "hours")
    try:
        store.store("school-a", (hour("kitchen/t0", "2026-12-01 08:00", 9, 4.0),
                                 hour("kitchen/t0", "2026-12-01 08:00", 360, 4.2),
                                 hour("kitchen/t0", "2026-12-01 08:00", 12, 4.1),
                                 hour("kitchen/t1", "2026-12-01 08:00", 360, -18.0),
                                 hour("kitchen/t0", "2026-12-01 09:00", 360, 3.9)))
    finally:
        store.close()
    answer = feed(client, tokens["province"], "hourly")
    assert answer.status_code == 200, answer.text
    rows = list(csv.reader(io.StringIO(answer.text.removeprefix("\ufeff"))))
    assert rows == [["site", "sensor", "hour", "count", "faults", "min", "max", "mean"],
                    ["school-a", "kitchen/t0", "2026-12-01T08:00:00.000+08:00", "360", "0", "3.2", "5.2", "4.2"],
                    ["school-a", "kitchen/t1", "2026-12-01T08:00:00.000+08:00", "360", "0", "-19.0", "-17.0", "-18.0"],
                    ["school-a", "kitchen/t0", "2026-12-01T09:00:00.000+08:00", "360", "0", "2.9", "4.9", "3.9"]]


def test_sample_records_as_json_lines_one_row_a_dish_and_a_row_a_discard(
        district: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = district
    answer = feed(client, tokens["province"], "samples", format="jsonl")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-ndjson"
    rows = [json.loads(line) for line in answer.text.splitlines()]
    assert [(r["event"], r["dish"], r["weight_g"], r["early"]) for r in rows] == [
        ("logged", "番茄炒蛋", 130.0, None), ("logged", "=HYPERLINK(\"http://x\")", 90.0, None),
        ("discarded", "", None, True)]
    assert rows[1]["short_reason"] == "只做了一份\n另" and rows[0]["time"] == "2026-12-01T11:40:00.000+08:00"
    # In CSV the same dish is text, and the line break stays inside its quoted cell.
    table = list(csv.reader(io.StringIO(feed(client, tokens["province"], "samples").text.removeprefix("\ufeff"))))
    assert len(table) == 4 and table[2][5] == "'=HYPERLINK(\"http://x\")" and table[2][7] == "只做了一份\n另"


def test_the_feed_is_bounded_and_within_the_reader_s_schools(district: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = district
    assert feed(client, tokens["inspector-b"], "readings").status_code == 403
    assert feed(client, tokens["school-a"], "readings").status_code == 401
    for params, field in (({"end": "2026-12-09T00:00:00"}, "end"), ({"end": "2026-11-30T00:00:00"}, "end"),
                          ({"format": "xml"}, "format"), ({"start": "yesterday"}, "start")):
        refused = feed(client, tokens["province"], "readings", **params)
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", field], params
    assert feed(client, tokens["province"], "menus").status_code == 422


class ProvinceAdapter:
    """A province's own format, installed as a package: one line a reading, fields in its order."""

    name: ClassVar[str] = "province-x"
    media_type: ClassVar[str] = "text/plain; charset=utf-8"
    extension: ClassVar[str] = "txt"

    def render(self, dataset: export.Dataset, rows: Iterable[export.Row]) -> Iterator[bytes]:
        for row in rows:
            assert isinstance(row, export.ReadingRow)
            yield f"{row.sensor}|{row.time}|{row.value}\n".encode()


def test_a_province_s_own_adapter_is_found_by_its_entry_point(
        district: tuple[TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    installed = [EntryPoint("province-x", f"{__name__}:ProvinceAdapter", export.ADAPTER_GROUP),
                 EntryPoint("broken", f"{__name__}:NoSuchAdapter", export.ADAPTER_GROUP)]
    monkeypatch.setattr(export, "entry_points", lambda group: installed if group == export.ADAPTER_GROUP else [])
    client, tokens = district
    answer = feed(client, tokens["province"], "readings", format="province-x")
    assert answer.status_code == 200, answer.text
    assert answer.text.splitlines()[0] == "kitchen/t0|2026-12-01T08:00:00.000+08:00|3.5"
    assert "province-x" in feed(client, tokens["province"], "readings", format="nope").json()["detail"][0]["msg"]
