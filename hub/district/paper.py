"""《区县每周食品安全汇总》: the weekly compliance table on paper, for the bureau's file and its inspectors' signatures.

Landscape A4, one row per school, the rows that need a look in red: an alarm nobody
acknowledged, a checklist or a repair past its deadline, samples thrown away before
their 48 hours, a school not heard from this week. Every school name and every
signature is drawn as text, never as markup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer
from reportlab.platypus.flowables import Flowable

from hub.district.compliance import SchoolWeek
from hub.district.signoffs import DistrictSignOff
from hub.report.pdf import Styles, escape, table, when
from hub.report.records import document
from hub.samples.labels import find_font, registered_font

TITLE = "区县每周食品安全汇总"
_HEAD = ("学校", "最近联系", "报警", "及时确认", "未确认", "冷链超限（小时）", "检查提交", "逾期", "过快",
         "超时未检", "留样餐次", "不足量", "提前弃置", "隐患上报", "验收", "工单逾期")
#: Column widths as shares of the page's width: the school's name gets the most.
_SHARES = (0.16, 0.09, *(0.75 / 14,) * 14)


def needs_a_look(row: SchoolWeek, start: float) -> bool:
    """What the paper prints in red: something nobody handled, or a school silent since before the week began."""
    silent = row.last_contact is None or row.last_contact.timestamp() < start
    return silent or bool(row.never_acknowledged or row.checks_overdue or row.orders_overdue
                          or row.samples_discarded_early)


def _cells(row: SchoolWeek, tz: ZoneInfo) -> list[str]:
    contact = when(row.last_contact.timestamp(), tz, "%m-%d %H:%M") if row.last_contact else "从未"
    return [f"{row.name}（{row.site}）", contact, str(row.alarms), str(row.acknowledged_on_time),
            str(row.never_acknowledged), f"{row.cold_hours_out_of_band:.1f}", str(row.checks_submitted),
            str(row.checks_late), str(row.checks_too_fast), str(row.checks_overdue), str(row.sample_meals),
            str(row.sample_dishes_light), str(row.samples_discarded_early), str(row.orders_reported),
            str(row.orders_accepted), str(row.orders_overdue)]


def weekly_paper(rows: Sequence[SchoolWeek], week: str, start: float, district: str, tz: ZoneInfo, now: float,
                 ack_on_time_s: float, signoffs: Sequence[DistrictSignOff] = (),
                 font_path: Path | None = None) -> bytes:
    """The week's table as PDF bytes, with how each column is counted and the inspectors' signatures."""
    font = registered_font(find_font(font_path))
    styles = Styles(font)
    page = landscape(A4)
    width = page[0] - 30 * mm
    first = dt.datetime.fromtimestamp(start, tz).date()
    span = f"{week}（{first:%Y-%m-%d} 至 {first + dt.timedelta(days=6):%Y-%m-%d}）"
    warn = [n + 1 for n, row in enumerate(rows) if needs_a_look(row, start)]
    flow: list[Flowable] = [
        Paragraph(escape(f"{district}{TITLE}"), styles.title),
        Paragraph(escape(f"{span} · 共 {len(rows)} 所学校 · 生成于 {when(now, tz, '%Y-%m-%d %H:%M')}"),
                  styles.subtitle),
        Spacer(1, 3 * mm),
        table([list(_HEAD), *(_cells(row, tz) for row in rows)], [width * f for f in _SHARES], styles, warn),
        Spacer(1, 3 * mm),
        Paragraph(escape(
            f"说明：报警按本周触发计；及时确认指触发后 {ack_on_time_s / 60:g} 分钟内有人确认；"
            "冷链超限为冷藏冷冻温度报警在本周内持续的小时数之和；检查、留样、隐患数据来自各校上报的操作记录"
            "（审计日志）；超时未检、工单逾期为各校系统发出的逾期报警。红色行：有未确认报警、超时未检、工单逾期、"
            "留样提前弃置，或本周未与区县平台联系。"
            "链路中断的学校只含已上报部分。"), styles.body),
        Spacer(1, 6 * mm)]
    for signed in signoffs:
        text = f"已签署：{signed.display_name}（{signed.inspector}），{when(signed.signed_at, tz, '%Y-%m-%d %H:%M')}"
        flow.append(Paragraph(escape(text + (f"，意见：{signed.comment}" if signed.comment else "")), styles.body))
    if not signoffs:
        flow.append(Paragraph("督查人（签字）：______________　科室负责人（签字）：______________　日期：__________",
                              styles.body))
    return document(TITLE, week, district, flow, font, pagesize=page)
