"""The district's all-schools page at 500 schools: every school at a glance, one school's open alarms, the week's table.

Run: ``python -m bench.district`` (``--schools 500 --alarms 40 --audit 400 --runs 20``). A private
PostgreSQL 15 (``hub.pg.server``, fsync on) gets the district's schema, ``--schools``
registered schools and ``--alarms`` alarms each as the forwarded lifecycle leaves them — one
in ten still open (firing, acknowledged, resolved or closed) across every kind the glance
counts, the rest verified — then an inspector of every school and one of 50 schools read
``GET /district/v1/schools`` and ``/district/v1/schools/{site}`` through the real app, each
``--runs`` times; the median is kept. Each school also has ``--audit`` audit entries in the
bench's week (checklists, samples, work orders, as the school hubs forward them), and the
county inspector reads that week's compliance table (``/district/v1/compliance/{week}``).
Targets (issue 21): the all-schools page for 500 schools in < 300 ms, the weekly district
table in < 10 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from hub.district.inspectors import add_inspector
from hub.district.service import create_district_app
from hub.district.settings import DistrictSettings
from hub.district.store import DistrictStore
from hub.pg.server import PostgresServer

KINDS = ("temperature", "check", "work_order", "device", "door", "gate", "sample")
OPEN = ("firing", "acknowledged", "resolved", "closed")
TARGET_MS = 300.0
TABLE_TARGET_MS = 10_000.0
#: The bench's week: 1_800_000_000 (the alarms' times) is Friday 15 January 2027, Beijing time.
WEEK = "2027-W02"
AT = 1_800_000_000.0
#: What a school's audit log holds in a week, in turn (the detail as the school's services write it).
_ENTRIES = (
    ("check.submit", {"run": 1, "late": False, "too_fast": False, "failed": [], "orders": []}),
    ("check.submit", {"run": 2, "late": True, "too_fast": False, "failed": ["clean_floor"], "orders": [7]}),
    ("sample.logged", {"meal": "lunch", "created": True, "dishes": [
        {"name": "番茄炒蛋", "weight_g": 130, "code": None, "short_reason": ""},
        {"name": "青菜", "weight_g": 90, "code": None, "short_reason": "只做了一份"}]}),
    ("sample.discarded", {"early": False, "note": ""}),
    ("order.report", {"run": 2}),
    ("order.accept", {"from": "fixed", "to": "accepted", "note": ""}),
    ("alert.acknowledge", {"state": "acknowledged", "subject": "kitchen/t0"}),
)


def _fill(store: DistrictStore, schools: int, alarms: int, audit: int) -> None:
    """Schools and their alarms straight into the tables (the forwarding path has its own tests and bench)."""
    with store.pool.connection() as db, db.transaction():
        db.execute("INSERT INTO sites (site, name, token_sha256, last_contact)"
                   " SELECT 'school-' || n, '第' || n || '学校', sha256(n::text::bytea), now() - (n || ' s')::interval"
                   " FROM generate_series(1, %s) n", (schools,))
        rows = []
        for school in range(1, schools + 1):
            for alert_id in range(1, alarms + 1):
                state = OPEN[alert_id % len(OPEN)] if alert_id % 10 == 0 else "verified"
                fired = AT + alert_id * 60
                body = {"id": alert_id, "kind": KINDS[alert_id % len(KINDS)], "state": state, "severity": "warning",
                        "message": f"报警 {alert_id}", "started_at": fired, "fired_at": fired,
                        "updated_at": fired + 3600, "acked_by": None, "acked_at": fired + 60 * (alert_id % 20),
                        "resolved_at": None if state == "firing" else fired + 3600}
                rows.append((f"school-{school}", alert_id, state, body["updated_at"], json.dumps(body)))
        with db.cursor() as cursor, cursor.copy(
                "COPY alarms (site, alert_id, state, updated_at, body, applied_by) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*row, "bench"))
        with db.cursor() as cursor, cursor.copy(
                "COPY records (site, kind, key, ts, body, received_by) FROM STDIN") as copy:
            for school in range(1, schools + 1):
                for entry_id in range(1, audit + 1):
                    action, detail = _ENTRIES[entry_id % len(_ENTRIES)]
                    ts = AT - 3 * 86400 + entry_id * (5 * 86400 / audit)  # spread over the week
                    body = {"id": entry_id, "ts": ts, "actor": "wang", "action": action, "subject": f"s/{entry_id}",
                            "detail": json.dumps(detail, ensure_ascii=False), "prev_hash": "0" * 64,
                            "hash": "0" * 64}
                    copy.write_row((f"school-{school}", "audit", f"{entry_id:019d}", ts,
                                    json.dumps(body, ensure_ascii=False), "bench"))
        db.execute("ANALYZE")


def _median_ms(call: Callable[[], object], runs: int) -> float:
    call()  # warm: the first request pays for the connection and the plan
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.district", description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=500)
    parser.add_argument("--alarms", type=int, default=40, help="alarms per school, one in ten open")
    parser.add_argument("--audit", type=int, default=400, help="audit entries per school in the week")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    with PostgresServer() as server:
        dsn = server.create_database("district_bench")
        store = DistrictStore(dsn, "bench")
        try:
            _fill(store, args.schools, args.alarms, args.audit)
            county = add_inspector(store, "county", "区教育局", [], all_sites=True)
            fifty = [f"school-{n}" for n in range(1, min(50, args.schools) + 1)]
            some = add_inspector(store, "inspector", "督学", fifty)
        finally:
            store.close()
        app = create_district_app(DistrictSettings(dsn=dsn, worker="bench"))
        with TestClient(app) as client:
            def get(path: str, token: str) -> Callable[[], object]:
                def fetch() -> object:
                    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
                    assert response.status_code == 200, (path, response.status_code, response.text[:200])
                    return response.json()
                return fetch

            every = get("/district/v1/schools", county)()
            assert isinstance(every, list) and len(every) == args.schools
            timings = {
                f"all {args.schools} schools at a glance (every school's inspector)":
                    _median_ms(get("/district/v1/schools", county), args.runs),
                "50 schools at a glance (an inspector of 50)":
                    _median_ms(get("/district/v1/schools", some), args.runs),
                "one school's open alarms": _median_ms(get("/district/v1/schools/school-1", county), args.runs),
                f"the week's compliance table, {args.schools} schools":
                    _median_ms(get(f"/district/v1/compliance/{WEEK}", county), max(1, args.runs // 4)),
            }
            table = get(f"/district/v1/compliance/{WEEK}", county)()
            assert isinstance(table, list) and len(table) == args.schools and table[0]["checks_submitted"] > 0
    print(f"{args.schools:,} schools, {args.schools * args.alarms:,} alarms ({args.schools * args.alarms // 10:,}"
          f" open), {args.schools * args.audit:,} audit entries; median of {args.runs} (the table: of"
          f" {max(1, args.runs // 4)})")
    failed = False
    for name, ms in timings.items():
        target = (TARGET_MS if name.startswith(f"all {args.schools}")
                  else TABLE_TARGET_MS if name.startswith("the week's") else None)
        verdict = ""
        if target is not None:
            missed = ms >= target
            failed = failed or missed
            verdict = f" (< {target:,.0f} ms: {'FAIL' if missed else 'pass'})"
        print(f"  {name}: {ms:.1f} ms{verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
