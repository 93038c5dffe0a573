from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from hub.rules.silence import DailyWindow, Silence, silencing

TZ = ZoneInfo("Asia/Shanghai")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp()


DEFROST = DailyWindow(time(2, 0), time(2, 30))
NIGHT = DailyWindow(time(23, 30), time(0, 30))  # crosses midnight
FRIDAY_NIGHT = DailyWindow(time(23, 0), time(1, 0), frozenset({4}))  # begins Fridays only


@pytest.mark.parametrize(("window", "moment", "inside"), [
    (DEFROST, "2026-11-20T02:00:00", True),
    (DEFROST, "2026-11-20T02:29:59", True),
    (DEFROST, "2026-11-20T02:30:00", False),
    (DEFROST, "2026-11-20T01:59:59", False),
    (NIGHT, "2026-11-20T23:45:00", True),
    (NIGHT, "2026-11-21T00:15:00", True),
    (NIGHT, "2026-11-21T00:30:00", False),
    (NIGHT, "2026-11-20T23:29:00", False),
    # 2026-11-20 is a Friday: the window that began Friday 23:00 still holds at Saturday 00:30
    (FRIDAY_NIGHT, "2026-11-20T23:30:00", True),
    (FRIDAY_NIGHT, "2026-11-21T00:30:00", True),
    (FRIDAY_NIGHT, "2026-11-21T23:30:00", False),  # Saturday evening
    (FRIDAY_NIGHT, "2026-11-20T00:30:00", False),  # Friday just after midnight began on Thursday
])
def test_windows(window: DailyWindow, moment: str, inside: bool) -> None:
    assert window.contains(datetime.fromisoformat(moment).replace(tzinfo=TZ)) is inside


def test_silence_matching_by_subject_glob_rule_and_time() -> None:
    defrost = Silence(subject="canteen-1/freezer-*", rules=frozenset({"temperature_limits"}), window=DEFROST)
    until = Silence(subject="gate-1/*", ends_at=at("2026-11-20T12:00:00"))
    silences = [defrost, until]
    assert silencing(silences, "temperature_limits", "canteen-1/freezer-2", at("2026-11-20T02:10:00"), TZ) is defrost
    assert silencing(silences, "sensor_fault", "canteen-1/freezer-2", at("2026-11-20T02:10:00"), TZ) is None
    assert silencing(silences, "temperature_limits", "canteen-1/fridge-1", at("2026-11-20T02:10:00"), TZ) is None
    assert silencing(silences, "door_open_too_long", "gate-1/g", at("2026-11-20T11:59:00"), TZ) is until
    assert silencing(silences, "door_open_too_long", "gate-1/g", at("2026-11-20T12:00:00"), TZ) is None
