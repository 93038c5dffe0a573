"""The gate register's pure rules: masking, normalising what people type, the gate's day, when alarms hold."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from hub.calendar import Opening
from hub.visitors import rules

TZ = ZoneInfo("Asia/Shanghai")


def _at(hm: str) -> dt.datetime:
    return dt.datetime.combine(dt.date(2026, 10, 12), dt.time.fromisoformat(hm), TZ)


@pytest.mark.parametrize(("typed", "stored"), [
    ("13812345678", "13812345678"), ("138 1234 5678", "13812345678"), ("+86 138-1234-5678", "13812345678"),
    ("(0755) 8888 1234", "075588881234"), ("12345", None), ("2381234567a", None), ("１３８１２３４５６７８", None),
])
def test_a_phone_is_kept_as_its_digits(typed: str, stored: str | None) -> None:
    assert rules.normal_phone(typed) == stored


def test_masks_keep_only_what_identifies_a_line_in_the_book() -> None:
    assert rules.mask_phone("13812345678") == "138****5678"
    assert rules.mask_phone("075588881234") == "075*****1234"
    assert rules.mask_name("欧阳娜娜") == "欧***" and rules.mask_name("王") == "王"
    assert rules.mask_plate("粤B12345") == "粤B***45" and rules.mask_plate("粤BD12345") == "粤B****45"


@pytest.mark.parametrize(("typed", "stored"), [
    ("粤B12345", "粤B12345"), ("粤b 123·45", "粤B12345"), ("粤BD12345", "粤BD12345"), ("京A1234学", "京A1234学"),
    ("B12345", None), ("<script>", None), ("粤B1", None),
])
def test_a_plate_is_kept_in_capitals_without_spaces(typed: str, stored: str | None) -> None:
    assert rules.normal_plate(typed) == stored


def test_only_the_last_four_of_a_document_are_taken() -> None:
    assert rules.normal_id_last4("123x") == "123X"
    assert rules.normal_id_last4("110101199001011234") is None and rules.normal_id_last4("12") is None


def test_the_gate_day_runs_from_the_first_opening_to_the_last_closing() -> None:
    day = rules.gate_day([Opening(_at("11:30"), _at("13:30")), Opening(_at("06:30"), _at("08:30")),
                          Opening(_at("16:30"), _at("18:30"))])
    assert day == rules.GateDay(_at("06:30").timestamp(), _at("18:30").timestamp())
    assert not rules.outside_hours(day, _at("10:00").timestamp())
    assert rules.outside_hours(day, _at("18:30").timestamp()) and rules.outside_hours(None, _at("10:00").timestamp())
    assert rules.closings_between([day, None], _at("18:00").timestamp(), _at("19:00").timestamp()) == [day.end]


def test_who_is_still_inside_at_closing_and_which_openings_nobody_registered() -> None:
    closing = _at("18:30").timestamp()
    assert rules.still_inside([(closing - 3600, None)], closing)
    assert not rules.still_inside([(closing - 3600, closing - 60)], closing)
    assert not rules.still_inside([(closing + 60, None)], closing)  # came after: the after-hours rule's
    opened = _at("20:00").timestamp()
    assert rules.unregistered(opened, [opened - 901, opened + 901], 900)
    assert not rules.unregistered(opened, [opened + 300], 900)


def test_a_slip_is_overdue_only_when_the_pupil_was_to_come_back() -> None:
    until = _at("11:00").timestamp()
    assert rules.slip_overdue(until + 1, until, None, True)
    assert not rules.slip_overdue(until + 1, until, until - 60, True)
    assert not rules.slip_overdue(until + 1, until, None, False)
    assert not rules.slip_overdue(until, until, None, True)
    now = _at("09:00").timestamp()
    assert rules.slip_window_problem(now, now - 60, now) is not None
    assert rules.slip_window_problem(now, now + 2 * 86_400, now) is not None
    assert rules.slip_window_problem(now, now + 3600, now) is None
