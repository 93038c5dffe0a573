"""The checks' food-safety records in Simplified Chinese: 《每日食品安全检查记录》, 《每周食品安全排查治理报告》 and
《每月食品安全调度会议纪要》, as PDF (A4, the weekly report's renderer and font) and as xlsx (the same rows,
``hub.report.xlsx``).

A day nobody filled prints as the blank form, to fill on paper; an automatic answer prints
with its evidence and 「系统」, an overridden one with the reason; a failed item with its work
order. Each ends with lines to sign by hand.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer
from reportlab.platypus.flowables import Flowable

from hub.checks.kinds import Answer, Cadence, Category, ItemKind
from hub.checks.records import ChecklistRecord, PeriodSummary, RecordLine
from hub.checks.store import WorkOrder
from hub.report.pdf import ORDER_STATE_ZH, Styles, escape, table, when
from hub.report.store import SignOff
from hub.report.xlsx import Sheet, workbook
from hub.samples.labels import find_font, registered_font

_ANSWER_ZH = {Answer.OK: "合格", Answer.FAIL: "不合格", Answer.NA: "不适用"}
CATEGORY_ZH = {Category.ELECTRICAL: "电气", Category.WATER: "水管/漏水", Category.DOOR_LOCK: "门锁",
               Category.BUILDING: "校舍", Category.EQUIPMENT: "设备", Category.CANTEEN: "食堂",
               Category.FIRE: "消防", Category.OTHER: "其他"}


def _answer_text(line: RecordLine, tz: ZoneInfo) -> str:
    a = line.answer
    if a is None:
        return ""
    if line.kind is ItemKind.SIGNATURE and a.answer is not Answer.NA and (a.photos or a.text):
        # The drawn signature is kept as a photo; the record says who signed it and when, and the name typed
        # in when it was typed rather than drawn.
        signed = f"已签名（{a.answered_by}，{when(a.answered_at, tz, '%Y-%m-%d %H:%M')}）"
        return signed if a.photos else f"{signed}，键入姓名：{a.text}"
    parts = [_ANSWER_ZH[a.answer] if a.answer is not None else ""]
    if a.value is not None:
        parts.append(f"{a.value:g} {line.unit}".strip())
    if a.text:
        parts.append(a.text)
    return "，".join(p for p in parts if p)


def _note_text(line: RecordLine, tz: ZoneInfo) -> str:
    a = line.answer
    if a is None:
        return ""
    parts = []
    if a.auto is not None:
        parts.append(("系统自动判断，已人工修改：" if a.overridden else "系统：") + a.evidence)
    if a.scan_place and a.scanned_at is not None:
        parts.append(f"现场扫码：{a.scan_place} {when(a.scanned_at, tz, '%H:%M')}")
    if a.note:
        parts.append(a.note)
    if a.photos and line.kind is not ItemKind.SIGNATURE:
        parts.append(f"照片 {len(a.photos)} 张")
    if line.order is not None:
        parts.append(f"工单 #{line.order.id}（{ORDER_STATE_ZH[line.order.state]}）")
    return "；".join(parts)


_CHECKLIST_HEADER = ["类别", "检查项", "结果", "说明 / 依据"]


def _checklist_head(record: ChecklistRecord, tz: ZoneInfo) -> str:
    run = record.run
    if run is None:
        return "本期未在系统中提交：以下为空白记录表，请手工填写。"
    return (f"检查人：{run.submitted_by}　提交时间：{when(run.submitted_at, tz, '%Y-%m-%d %H:%M')}"
            f"　用时：{round(run.duration_s / 60)} 分钟{'（用时过短）' if run.too_fast else ''}"
            f"{'　逾期补做' if run.late else ''}　模板版本：{run.version}")


def _checklist_rows(record: ChecklistRecord, tz: ZoneInfo) -> list[list[str]]:
    return [[line.section, ("★ " if line.key_item else "") + line.text, _answer_text(line, tz), _note_text(line, tz)]
            for line in record.lines]


def _checklist(record: ChecklistRecord, tz: ZoneInfo, styles: Styles, width: float) -> list[Flowable]:
    rows: list[list[Any]] = [_CHECKLIST_HEADER, *_checklist_rows(record, tz)]
    warn = [n + 1 for n, line in enumerate(record.lines)
            if line.answer is not None and line.answer.answer is Answer.FAIL]
    return [Paragraph(escape(_checklist_head(record, tz)), styles.body), Spacer(1, 2 * mm),
            table(rows, [width * f for f in (0.12, 0.38, 0.16, 0.34)], styles, warn)]


def document(title: str, subtitle: str, school: str, flow: list[Flowable], font: str,
             pagesize: tuple[float, float] = A4) -> bytes:
    """A record's PDF: the school (or district) and title in each page's head, the page number at its foot.

    Shared with the district's weekly paper (hub.district.paper), which is landscape.
    """
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=pagesize, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=18 * mm, title=f"{school}{title} {subtitle}", author="xiaoan 校安")

    def footer(canvas: Canvas, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.drawString(15 * mm, pagesize[1] - 9 * mm, f"{school} · {title} {subtitle}")
        canvas.drawRightString(pagesize[0] - 15 * mm, 10 * mm, f"第 {canvas.getPageNumber()} 页")
        canvas.restoreState()

    doc.build(flow, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def signed_text(signoffs: Sequence[SignOff], tz: ZoneInfo) -> str:
    """Who signed the period off through the report sign-off, when, with their remarks ('' : not signed yet)."""
    return "；".join(f"已签署：{s.signer_name}（{s.signed_by}），{when(s.signed_at, tz, '%Y-%m-%d %H:%M')}"
                    + (f"，审核意见：{s.comment}" if s.comment else "") for s in signoffs)


def _signed(signoffs: Sequence[SignOff], tz: ZoneInfo, styles: Styles) -> list[Flowable]:
    text = signed_text(signoffs, tz)
    return [Paragraph(escape(text), styles.body)] if text else []


def daily_record(record: ChecklistRecord, day: dt.date, school: str, tz: ZoneInfo, now: float,
                 font_path: Path | None = None, signoffs: Sequence[SignOff] = ()) -> bytes:
    """《每日食品安全检查记录》 of one day as PDF bytes (with its sign-off, once the day's report is signed)."""
    font = registered_font(find_font(font_path))
    styles = Styles(font)
    width = A4[0] - 30 * mm
    title = "每日食品安全检查记录"
    flow: list[Flowable] = [
        Paragraph(escape(f"{school}{title}"), styles.title),
        Paragraph(escape(f"{day.isoformat()} · {record.name} · 生成于 {when(now, tz, '%Y-%m-%d %H:%M')}"),
                  styles.subtitle),
        Spacer(1, 3 * mm), *_checklist(record, tz, styles, width), Spacer(1, 6 * mm),
        Paragraph("检查人（签字）：______________　食品安全员（签字）：______________　日期：__________",
                  styles.body), *_signed(signoffs, tz, styles)]
    return document(title, day.isoformat(), school, flow, font)


def _span(summary: PeriodSummary) -> str:
    return "本周" if summary.cadence is Cadence.WEEKLY else "本月"


def weekly_report(summary: PeriodSummary, school: str, tz: ZoneInfo, now: float,
                  font_path: Path | None = None, signoffs: Sequence[SignOff] = ()) -> bytes:
    """《每周食品安全排查治理报告》 of one week as PDF bytes: the week's checks, each hazard found and how it
    stands, what the sensors saw, and the weekly checklist as filled."""
    font = registered_font(find_font(font_path))
    styles = Styles(font)
    width = A4[0] - 30 * mm
    title = "每周食品安全排查治理报告"
    checks, categories, _open, reported, sensors = _summary_tables(summary, tz)
    flow: list[Flowable] = [
        Paragraph(escape(f"{school}{title}"), styles.title),
        Paragraph(escape(f"{summary.period} · 生成于 {when(now, tz, '%Y-%m-%d %H:%M')}"), styles.subtitle),
        Paragraph("一、本周检查完成情况", styles.h1),
        *_checks_table(summary, checks, styles, width),
        Paragraph("二、本周发现的隐患及整改情况", styles.h1), Paragraph(escape(_orders_summary(summary)), styles.body)]
    if summary.reported:
        warn = [n + 1 for n, o in enumerate(summary.reported) if o.accepted_at is None]
        flow.append(table([reported[1], *reported[2]], [width * f for f in (0.26, 0.12, 0.1, 0.14, 0.1, 0.28)],
                          styles, warn))
    if summary.by_category:
        flow.append(table([categories[1], *categories[2]], [width * f for f in (0.3, 0.2, 0.2, 0.3)], styles))
    flow.append(Paragraph("三、设备与门岗监测（系统自动）", styles.h1))
    if summary.sensors:
        warn = [n + 1 for n, line in enumerate(summary.sensors) if line.seen.answer is Answer.FAIL]
        flow.append(table([sensors[1], *sensors[2]], [width * f for f in (0.2, 0.14, 0.66)], styles, warn))
    flow.append(Paragraph("四、本周排查", styles.h1))
    if summary.record is not None:
        flow += _checklist(summary.record, tz, styles, width)
    flow += [Paragraph("五、下周整改措施", styles.h1),
             Paragraph("______________________________________________________________________", styles.body),
             Spacer(1, 6 * mm),
             Paragraph("食品安全员（签字）：______________　食品安全总监（签字）：______________　日期：__________",
                       styles.body),
             *_signed(signoffs, tz, styles)]
    return document(title, summary.period, school, flow, font)


def monthly_minutes(minutes: PeriodSummary, school: str, tz: ZoneInfo, now: float,
                    font_path: Path | None = None, signoffs: Sequence[SignOff] = ()) -> bytes:
    """《每月食品安全调度会议纪要》 of one month as PDF bytes."""
    font = registered_font(find_font(font_path))
    styles = Styles(font)
    width = A4[0] - 30 * mm
    title = "每月食品安全调度会议纪要"
    flow: list[Flowable] = [
        Paragraph(escape(f"{school}{title}"), styles.title),
        Paragraph(escape(f"{minutes.period} · 生成于 {when(now, tz, '%Y-%m-%d %H:%M')}"), styles.subtitle),
        Paragraph("会议时间：______________　地点：______________　主持人：______________　记录人：______________",
                  styles.body),
        Paragraph("参会人员：____________________________________________________________", styles.body),
        Paragraph("一、本月检查完成情况", styles.h1)]
    checks, categories, orders, _reported, _sensors = _summary_tables(minutes, tz)
    flow += _checks_table(minutes, checks, styles, width)
    flow += [Paragraph("二、隐患排查与整改", styles.h1), Paragraph(escape(_orders_summary(minutes)), styles.body)]
    if minutes.by_category:
        flow.append(table([categories[1], *categories[2]], [width * f for f in (0.3, 0.2, 0.2, 0.3)], styles))
    if minutes.open_orders:
        flow.append(table([orders[1], *orders[2]], [width * f for f in (0.38, 0.14, 0.14, 0.17, 0.17)], styles))
    flow.append(Paragraph("三、月度总查", styles.h1))
    if minutes.record is not None:
        flow += _checklist(minutes.record, tz, styles, width)
    flow += [Paragraph("四、下月工作安排", styles.h1),
             Paragraph("______________________________________________________________________", styles.body),
             Spacer(1, 6 * mm),
             Paragraph("食品安全总监 / 负责人（签字）：______________　日期：__________", styles.body),
             *_signed(signoffs, tz, styles)]
    return document(title, minutes.period, school, flow, font)


def _checks_table(summary: PeriodSummary, checks: Sheet, styles: Styles, width: float) -> list[Flowable]:
    warn = [n + 1 for n, c in enumerate(summary.checks) if c.missed or c.late]
    return [table([checks[1], *checks[2]], [width * f for f in (0.4, 0.12, 0.12, 0.12, 0.12, 0.12)], styles, warn)]


def _orders_summary(summary: PeriodSummary) -> str:
    span = _span(summary)
    return (f"{span}新报隐患 {summary.orders_opened} 件，验收关闭 {summary.orders_accepted} 件，"
            f"逾期未整改 {summary.orders_overdue} 件。")


def _summary_tables(summary: PeriodSummary, tz: ZoneInfo) -> tuple[Sheet, Sheet, Sheet, Sheet, Sheet]:
    """A period's tables: checks done, hazards by category, work orders still open, the hazards reported in the
    period with how each stands, and what the sensors saw."""
    checks: Sheet = ("检查完成情况", ["检查表", "应做", "按时", "逾期补做", "未做", "用时过短"],
                     [[c.name, str(c.due), str(c.on_time), str(c.late), str(c.missed), str(c.too_fast)]
                      for c in summary.checks])
    categories: Sheet = ("隐患分类", ["类别", "新报", "验收关闭", "整改用时中位数"],
                         [[CATEGORY_ZH[c.category], str(c.reported), str(c.accepted),
                           f"{c.median_h:.1f} 小时" if c.median_h is not None else "—"] for c in summary.by_category])
    orders: Sheet = ("未关闭工单", ["未关闭工单", "地点", "状态", "整改期限", "负责人"],
                     [[f"#{o.id} {o.title}", o.place, ORDER_STATE_ZH[o.state], when(o.due_at, tz),
                       o.assignee or "未指派"] for o in summary.open_orders])
    reported: Sheet = (f"{_span(summary)}隐患", ["隐患", "地点", "类别", "发现时间", "状态", "整改情况"],
                       [[f"#{o.id} {o.title}", o.place, CATEGORY_ZH[o.category], when(o.reported_at, tz),
                         ORDER_STATE_ZH[o.state], _fix_text(o, tz)] for o in summary.reported])
    sensors: Sheet = ("设备监测", ["项目", "结果", "依据（系统自动）"],
                      [[line.title, _ANSWER_ZH[line.seen.answer] if line.seen.answer is not None else "无法判断",
                        line.seen.evidence] for line in summary.sensors])
    return checks, categories, orders, reported, sensors


def _fix_text(order: WorkOrder, tz: ZoneInfo) -> str:
    """What was done and who accepted it; or who has it and by when."""
    if order.fixed_at is not None:
        text = f"{order.fixed_by} {when(order.fixed_at, tz, '%m-%d %H:%M')} 整改：{order.fix_note}"
        if order.accepted_at is not None:
            text += f"；{order.accepted_by} 验收"
        return text
    return f"{order.assignee or '未指派'}，期限 {when(order.due_at, tz, '%m-%d %H:%M')}"


def daily_record_xlsx(record: ChecklistRecord, day: dt.date, school: str, tz: ZoneInfo, now: float,
                      signoffs: Sequence[SignOff] = ()) -> bytes:
    """《每日食品安全检查记录》 of one day as a workbook: the same lines as the PDF, one row each."""
    made = when(now, tz, "%Y-%m-%d %H:%M")
    heading = [f"{school}每日食品安全检查记录", f"{day.isoformat()} · {record.name} · 生成于 {made}",
               "　".join(t for t in (_checklist_head(record, tz), signed_text(signoffs, tz)) if t)]
    return workbook([("检查记录", _CHECKLIST_HEADER, _checklist_rows(record, tz))], heading)


def _summary_heading(title: str, summary: PeriodSummary, tz: ZoneInfo, now: float,
                     signoffs: Sequence[SignOff]) -> list[str]:
    """A summary workbook's heading: its title, the period, the orders' line and who signed it."""
    return [title, f"{summary.period} · 生成于 {when(now, tz, '%Y-%m-%d %H:%M')}",
            "　".join(t for t in (_orders_summary(summary), signed_text(signoffs, tz)) if t)]


def weekly_report_xlsx(summary: PeriodSummary, school: str, tz: ZoneInfo, now: float,
                       signoffs: Sequence[SignOff] = ()) -> bytes:
    """《每周食品安全排查治理报告》 of one week as a workbook: the PDF's tables, and the weekly checklist."""
    heading = _summary_heading(f"{school}每周食品安全排查治理报告", summary, tz, now, signoffs)
    checks, categories, _open, reported, sensors = _summary_tables(summary, tz)
    sheets = [checks, reported, categories, sensors]
    if summary.record is not None:
        sheets.append(("本周排查", _CHECKLIST_HEADER, _checklist_rows(summary.record, tz)))
    return workbook(sheets, heading)


def monthly_minutes_xlsx(minutes: PeriodSummary, school: str, tz: ZoneInfo, now: float,
                         signoffs: Sequence[SignOff] = ()) -> bytes:
    """《每月食品安全调度会议纪要》 of one month as a workbook: its tables, and the month's general check."""
    heading = _summary_heading(f"{school}每月食品安全调度会议纪要", minutes, tz, now, signoffs)
    checks, categories, orders, _reported, _sensors = _summary_tables(minutes, tz)
    sheets = [checks, categories, orders]
    if minutes.record is not None:
        sheets.append(("月度总查", _CHECKLIST_HEADER, _checklist_rows(minutes.record, tz)))
    return workbook(sheets, heading)
