"""The report as a PDF in Simplified Chinese (A4), for the safety officer to sign and an inspector to read.

Sections follow the model: summary first, then each cold unit (figures, chart,
excursions with their alarm history), the log sheet, food samples, gates, devices,
and the sign-off block — the signature when signed, empty lines to sign by hand
when not. Every page carries the audit chain's head hash, which anchors the
tamper-evident log on paper.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from hub.alerts.kinds import AlertKind, AlertState
from hub.report.builder import COMPLETENESS_WARN
from hub.report.chart import chart
from hub.report.model import AlarmEntry, ColdUnit, Report, SensorCompleteness

# One font registration for the whole hub: the sample labels' (Debian's fonts-wqy-zenhei).
from hub.samples.labels import find_font, registered_font

_STATE_ZH = {AlertState.PENDING: "待定", AlertState.FIRING: "报警中", AlertState.ACKNOWLEDGED: "处理中",
             AlertState.RESOLVED: "已恢复", AlertState.CLOSED: "已处置", AlertState.VERIFIED: "已验收",
             AlertState.CANCELLED: "已取消"}
#: The summary's category column: an alarm is filed under its kind, the other items under their section.
_SECTION_ZH: dict[str, str] = {
    AlertKind.TEMPERATURE: "冷链", AlertKind.DOOR: "冷链", AlertKind.SENSOR: "设备", AlertKind.DEVICE: "设备",
    AlertKind.HUB: "系统", AlertKind.GATE: "门岗", AlertKind.SAMPLE: "留样", AlertKind.SAMPLE_NOTICE: "留样",
    AlertKind.CHECK: "检查", AlertKind.WORK_ORDER: "隐患整改", AlertKind.VISITOR: "门岗",
    "cold_chain": "冷链", "samples": "留样", "devices": "设备", "calibration": "校准"}
_KIND_ZH = {"daily": "日报", "weekly": "周报", "monthly": "月报", "range": "报告"}
_DEVICE_STATE_ZH = {"online": "在线", "offline": "离线"}
_WARN = colors.Color(0.55, 0.1, 0.1)
Label = Callable[[str], str]
#: Headers and labels of an English report (``alerts.locale: en``); a Chinese report prints the keys.
_EN: dict[str, str] = {
    "一、摘要": "1. Summary", "二、冷藏冷冻设备": "2. Cold units", "三、温度记录表": "3. Temperature log sheet",
    "四、食品留样": "4. Food samples", "五、门岗": "5. Gates", "六、设备": "6. Devices", "七、审核签字": "7. Sign-off",
    "范围": "Limits", "最低": "Min", "最高": "Max", "平均": "Mean", "范围内时间": "Within limits",
    "超标时间": "Outside", "读数": "Readings", "开始": "Start", "结束": "End", "峰值": "Peak", "持续": "Duration",
    "报警与处置": "Alarm history", "时间": "When", "修改人": "Changed by", "修改前": "Before", "修改后": "After",
    "原因": "Reason", "批准人": "Approved by", "类别": "Category", "事项": "What went wrong", "处理": "Handled",
    "日期": "Date", "设备": "Device", "餐次": "Meal", "留样时间": "Placed", "按时": "On time",
    "菜品（克）": "Dishes (g)", "留足时长": "Held full time", "柜温": "Cabinet", "弃样": "Discarded",
    "门": "Gate", "情况": "What", "状态": "State", "运行时长": "Uptime", "离线": "Offline",
    "丢弃读数": "Dropped", "传感器": "Sensor", "收到读数": "Readings received", "数据完整率": "Completeness",
    "应监测时长": "Expected", "未到": "not yet", "数据不足": "insufficient data", "学校": "School",
    "地点": "Site", "未设置学校名称": "school name not set", "页": "page",
    "各传感器数据完整率": "Data completeness per sensor", "限值修改记录": "Limit changes",
    "本期暂停提醒（报警照常记录，但未发通知）": "Silences in force (alarms recorded, nobody notified)",
    "检查与隐患整改": "Checks and work orders", "检查表": "Checklist", "期次": "Period", "截止": "Due",
    "完成情况": "Done", "提交人": "Submitted by", "不合格项": "Failed items", "工单": "Work order",
    "上报": "Reported", "逾期": "Overdue",
    "探头校准": "Probe calibration", "探头": "Probe", "上次校准": "Last check", "结果": "Result",
    "修正值": "Offset", "下次到期": "Next due", "本期修正值变更": "Offset changes in the period",
    "门卫登记": "Gate register", "来访（批）": "Visits", "来访人数": "Visitors", "学生离校": "Pupils out",
    "无离校单": "Without a slip",
}


def _labels(locale: str) -> Label:
    """The label printer of a report's locale: Chinese as written, English from ``_EN`` where one exists."""
    def label(text: str) -> str:
        return _EN.get(text, text) if locale == "en" else text

    return label


class _Styles:
    def __init__(self, font: str) -> None:
        self.font = font
        self.title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, alignment=1)
        self.subtitle = ParagraphStyle("subtitle", fontName=font, fontSize=10, leading=14, alignment=1)
        self.h1 = ParagraphStyle("h1", fontName=font, fontSize=13, leading=18, spaceBefore=8, spaceAfter=4)
        self.h2 = ParagraphStyle("h2", fontName=font, fontSize=11, leading=15, spaceBefore=6, spaceAfter=3)
        self.body = ParagraphStyle("body", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
        self.cell = ParagraphStyle("cell", fontName=font, fontSize=7.5, leading=9.5, wordWrap="CJK")
        self.warn = ParagraphStyle("warn", parent=self.cell, textColor=_WARN)
        self.small = ParagraphStyle("small", parent=self.cell, fontSize=6, leading=7.5, textColor=colors.grey)


def _when(ts: float | None, tz: ZoneInfo, fmt: str = "%m-%d %H:%M") -> str:
    return dt.datetime.fromtimestamp(ts, tz).strftime(fmt) if ts is not None else ""


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} 分钟"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} 小时 {minutes} 分" if minutes else f"{hours} 小时"


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _limit(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


#: A table cell's left plus right padding (points), as set in ``_table``'s style.
_CELL_PADDING = 6


def _table(rows: Sequence[Sequence[Any]], widths: Sequence[float], styles: _Styles,
           warn_rows: Sequence[int] = ()) -> Table:
    """A grid table with a grey header row; string cells that need wrapping become paragraphs.

    A string that fits its column on one line is drawn as it is, in the cells' font: the
    weekly log has tens of thousands of cells (a number, a time), and a paragraph for each
    was most of the PDF's time. Either way a cell's text is drawn as text, never markup
    (plain cells are not parsed; paragraph text is escaped).
    """
    cell = styles.cell

    def fits(text: str, width: float) -> bool:
        return "\n" not in text and stringWidth(text, cell.fontName, cell.fontSize) <= width - _CELL_PADDING

    body = [[(c if fits(c, widths[i]) else Paragraph(_escape(c), styles.warn if r in warn_rows else cell))
             if isinstance(c, str) else c for i, c in enumerate(row)] for r, row in enumerate(rows)]
    # A row taller than a page (a long alarm history, a long dish list) is split across pages
    # rather than failing the whole report with a LayoutError.
    table = Table(body, colWidths=list(widths), repeatRows=1, splitInRow=1)
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), cell.fontName, cell.fontSize, cell.leading),
        *[("TEXTCOLOR", (0, r), (-1, r), _WARN) for r in warn_rows],
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.92, 0.92, 0.92)),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]))
    return table


#: Shared with the checks' records (hub.report.records): one look, one font, one table style.
Styles = _Styles
escape = _escape
table = _table
when = _when


def _handled(value: bool | None) -> str:
    return "无需处置" if value is None else ("已处置" if value else "未处置")


def _alarm_history(alarm: AlarmEntry, tz: ZoneInfo) -> str:
    parts = [f"报警 #{alarm.id} {_when(alarm.started_at, tz)}（{_STATE_ZH[alarm.state]}）"]
    if alarm.acked_at is not None:
        parts.append(f"{alarm.acked_by} 于 {_when(alarm.acked_at, tz)} 确认")
    for done in alarm.interim:
        what = "、".join([*done.steps, *([done.text] if done.text else [])])
        parts.append(f"{_when(done.at, tz)} {done.by} 记录：{what}")
    if alarm.action:
        parts.append(f"处置：{alarm.action}（{alarm.closed_by}）")
    if alarm.verified_at is not None:
        parts.append(f"{alarm.verified_by} 于 {_when(alarm.verified_at, tz)} 验收")
    return "；".join(parts)


def within_text(unit: ColdUnit, label: Label = str) -> str:
    """The time within limits as printed: a share of the time the sensor was expected to report.

    With too little data the share is no evidence, and the cell says so instead of a reassuring figure.
    """
    of = f"{_duration(unit.within_s)} / {label('应监测时长')} {_duration(unit.expected_s)}"
    if unit.insufficient or unit.within_share is None:
        return f"{label('数据不足')}（{of}）"
    return f"{unit.within_share:.1%}（{of}）"


def _unit(unit: ColdUnit, report: Report, tz: ZoneInfo, styles: _Styles, width: float) -> list[Flowable]:
    label = _labels(report.locale)
    band = f"{_limit(unit.low)} ～ {_limit(unit.high)} °C"
    figures = _table([
        [label(h) for h in ("范围", "最低", "最高", "平均", "范围内时间", "超标时间", "读数")],
        [band, _num(unit.min), _num(unit.max), _num(unit.mean, 2), within_text(unit, label),
         _duration(unit.outside_s), f"{unit.count:,}"],
    ], [width * f for f in (0.14, 0.1, 0.1, 0.1, 0.3, 0.14, 0.12)], styles, warn_rows=[1] if unit.insufficient else [])
    heading = unit.name if unit.name != unit.key else unit.key
    flow: list[Flowable] = [Paragraph(_escape(heading), styles.h2), figures, Spacer(1, 2 * mm)]
    until = min(report.end, report.generated_at)
    flow.append(chart(unit.chart, unit.low, unit.high, unit.door_opens, report.start, max(until, report.start + 3600),
                      tz, styles.font, width, 45 * mm))
    legend = "绿色：温度范围；蓝色：每小时最低～最高及平均；橙色刻度：开门"
    if unit.door:
        legend += f"（共 {len(unit.door_opens)} 次）"
    if unit.name != unit.key:
        legend += f"。传感器编号 {unit.key}"
    flow.append(Paragraph(legend, styles.cell))
    if unit.excursions:
        rows: list[list[Any]] = [[label(h) for h in ("开始", "结束", "峰值", "持续", "报警与处置")]]
        for e in unit.excursions:
            start = _when(e.start, tz) + ("（之前已超标）" if e.started_before else "")
            history = "；".join(_alarm_history(a, tz) for a in e.alarms) or "未报警（短于报警延时）"
            rows.append([start, _when(e.end, tz) or "未恢复", f"{e.peak:g} °C", _duration(e.duration_s), history])
        flow.append(Spacer(1, 2 * mm))
        flow.append(_table(rows, [width * f for f in (0.16, 0.12, 0.1, 0.12, 0.5)], styles))
    else:
        flow.append(Paragraph("本期无超标。", styles.body))
    flow += _limit_edits(unit, tz, styles, width, label)
    return [KeepTogether(flow[:5]), *flow[5:]]


def _limit_edits(unit: ColdUnit, tz: ZoneInfo, styles: _Styles, width: float, label: Label = str) -> list[Flowable]:
    """Every change of the unit's limits in the period: an inspector sees who moved the line, and who agreed."""
    if not unit.limit_edits:
        return [Paragraph("本期限值未修改。", styles.cell)]
    rows: list[list[Any]] = [[label(h) for h in ("时间", "修改人", "修改前", "修改后", "原因", "批准人")]]
    pending: set[int] = set()
    for i, e in enumerate(unit.limit_edits, start=1):
        approved = "待审批（未生效）" if e.pending else (e.approved_by or "无需审批（法规范围内）")
        if e.pending:
            pending.add(i)
        rows.append([_when(e.at, tz), e.by, e.before or "—", e.after, e.reason or "—", approved])
    return [Spacer(1, 2 * mm), Paragraph(label("限值修改记录"), styles.cell),
            _table(rows, [width * f for f in (0.14, 0.14, 0.16, 0.16, 0.24, 0.16)], styles, warn_rows=sorted(pending))]


def _silences(report: Report, tz: ZoneInfo, styles: _Styles) -> list[Flowable]:
    """Silences in force during the period: when alarms were recorded but nobody was notified."""
    if not report.silences:
        return [Paragraph("本期没有暂停提醒。", styles.body)]
    flow: list[Flowable] = []
    for s in report.silences:
        when = (s.window and f"每日 {s.window}") or ""
        span = f"{_when(s.starts_at or s.created_at, tz)} 至 {_when(s.ends_at, tz) or '长期'}"
        if s.removed_at is not None:
            span += f"（{_when(s.removed_at, tz)} 提前结束）"
        rules = "、".join(s.rules) or "全部规则"
        flow.append(Paragraph(_escape(f"{s.subject}（{rules}）{when} {span}；原因：{s.reason or '—'}；"
                                      f"设置人：{s.created_by}"), styles.cell))
    return flow


def section_name(section: str) -> str:
    """The summary's category in Chinese (an unknown one as it is, rather than no row)."""
    return _SECTION_ZH.get(section, section)


def _summary(report: Report, tz: ZoneInfo, styles: _Styles, width: float) -> list[Flowable]:
    if not report.summary:
        return [Paragraph("本期一切正常，无报警、无超标。", styles.body)]
    label = _labels(report.locale)
    rows: list[list[Any]] = [[label(h) for h in ("时间", "类别", "事项", "处理")]]
    warn = []
    for item in report.summary:
        if item.handled is False or item.status:
            warn.append(len(rows))
        rows.append([_when(item.at, tz), section_name(item.section), item.text,
                     item.status or _handled(item.handled)])
    return [_table(rows, [width * f for f in (0.14, 0.08, 0.62, 0.16)], styles, warn)]


def _log_sheet(report: Report, tz: ZoneInfo, styles: _Styles, width: float) -> list[Flowable]:
    if not report.log_sheet:
        return [Paragraph("无。", styles.body)]
    label = _labels(report.locale)
    rows: list[list[Any]] = [[label("日期"), label("设备"), *report.log_slots]]
    warn = []
    for row in report.log_sheet:
        cells = [label("未到") if c.future else
                 f"{_num(c.value)} °C（{_when(c.ts, tz, '%H:%M')}）" + (" 超标" if c.within is False else "")
                 if c.value is not None else "—" for c in row.cells]
        if any(c.within is False for c in row.cells):
            warn.append(len(rows))
        rows.append([row.day, row.name, *cells])
    slot_width = (width * 0.62) / max(1, len(report.log_slots))
    return [_table(rows, [width * 0.14, width * 0.24, *([slot_width] * len(report.log_slots))], styles, warn)]


def _samples(report: Report, tz: ZoneInfo, styles: _Styles, width: float) -> list[Flowable]:
    if not report.samples:
        return [Paragraph("本期无留样记录。", styles.body)]
    label = _labels(report.locale)
    rows: list[list[Any]] = [[label(h) for h in ("日期", "餐次", "留样时间", "按时", "菜品（克）", "留足时长", "柜温",
                                                  "弃样")]]
    warn = []
    for s in report.samples:
        if s.record_id is None:
            warn.append(len(rows))
            rows.append([s.day, s.meal_name, "—", "否", "无留样记录", "", "", ""])
            continue
        dishes = "、".join(f"{d.name} {d.weight_g:g}" + ("（不足）" if d.underweight else "")
                          if d.weight_g is not None else f"{d.name}（未称重）" for d in s.dishes) or "菜品未登记"
        held = "留样中" if s.held_full is None else ("是" if s.held_full else "否（提前弃样）")
        discard = f"{s.discarded_by} {_when(s.discarded_at, tz)}" if s.discarded_at is not None else ""
        if s.on_time is False or s.held_full is False or s.cabinet_ok is False or any(d.underweight for d in s.dishes):
            warn.append(len(rows))
        rows.append([s.day, s.meal_name, _when(s.placed_at, tz, "%H:%M"),
                     "—" if s.on_time is None else ("是" if s.on_time else "否"), dishes, held,
                     "正常" if s.cabinet_ok else "超出范围", discard])
    return [_table(rows, [width * f for f in (0.11, 0.07, 0.08, 0.06, 0.33, 0.11, 0.09, 0.15)], styles, warn)]


_CHECK_STATUS_ZH = {"done": "按时完成", "late": "补做（逾期）", "missed": "未做"}
_ORDER_STATE_ZH = {"reported": "已上报", "assigned": "已指派", "in_progress": "处理中", "fixed": "待验收",
                   "accepted": "已验收", "reopened": "验收未通过"}
#: A work order's state as the printed records name it (hub.report.records too).
ORDER_STATE_ZH = _ORDER_STATE_ZH


def _checks(report: Report, tz: ZoneInfo, styles: _Styles, width: float) -> list[Flowable]:
    section = report.checks
    assert section is not None
    label = _labels(report.locale)
    orders = section.orders
    flow: list[Flowable] = [Paragraph(_escape(
        f"检查：按时完成 {section.count('done')} 份，逾期补做 {section.count('late')} 份，"
        f"未做 {section.count('missed')} 份，用时过短 {sum(1 for c in section.checks if c.too_fast)} 份；"
        f"隐患工单：新报 {sum(1 for o in orders if o.opened)} 件，验收关闭 {sum(1 for o in orders if o.closed)} 件，"
        f"逾期未整改 {sum(1 for o in orders if o.overdue)} 件。"), styles.body)]
    if section.checks:
        rows: list[list[Any]] = [[label(h) for h in ("检查表", "期次", "截止", "完成情况", "提交人", "不合格项")]]
        warn = []
        for c in section.checks:
            status = _CHECK_STATUS_ZH[c.status] + ("；用时过短" if c.too_fast else "")
            if c.status != "done" or c.too_fast:
                warn.append(len(rows))
            rows.append([c.name, c.period, _when(c.due_at, tz), status,
                         f"{c.submitted_by} {_when(c.submitted_at, tz)}" if c.submitted_at else "—", str(c.failed)])
        flow.append(_table(rows, [width * f for f in (0.28, 0.12, 0.13, 0.17, 0.2, 0.1)], styles, warn))
    if orders:
        rows = [[label(h) for h in ("工单", "地点", "上报", "状态", "逾期")]]
        warn = [n + 1 for n, o in enumerate(orders) if o.overdue]
        rows += [[f"#{o.id} {o.title}", o.place, f"{o.reported_by} {_when(o.reported_at, tz)}",
                  _ORDER_STATE_ZH.get(o.state, o.state), "是" if o.overdue else "否"] for o in orders]
        flow.append(_table(rows, [width * f for f in (0.4, 0.14, 0.22, 0.14, 0.1)], styles, warn))
    return flow


_STANDING_ZH = {"ok": "合格", "due_soon": "即将到期", "overdue": "逾期未校准", "failed": "不合格",
                "never": "从未校准"}
_METHOD_ZH = {"ice_point": "冰点法", "reference": "标准温度计"}
_SOURCE_ZH = {"config": "安装配置", "hub": "校准记录"}


def _offset(value: float | None, source: str) -> str:
    if value is None:
        return "—"
    return f"{value:+.2f} °C（{_SOURCE_ZH.get(source, source)}）"


def _calibration(report: Report, tz: ZoneInfo, styles: _Styles, width: float) -> list[Flowable]:
    """Each probe's last check and the offset in force; offset changes and replaced probes in the period."""
    entries = report.calibration or []
    if not entries:
        return [Paragraph("无温度探头。", styles.body)]
    label = _labels(report.locale)
    rows: list[list[Any]] = [[label(h) for h in ("探头", "上次校准", "结果", "修正值", "下次到期")]]
    warn = []
    for e in entries:
        if e.standing in ("overdue", "failed", "never"):
            warn.append(len(rows))
        last = "—" if e.checked_at is None else (
            f"{_when(e.checked_at, tz, '%Y-%m-%d')} {e.checked_by} {_METHOD_ZH.get(e.method, e.method)}"
            + (f" 证书 {e.certificate_no}" if e.certificate_no else ""))
        result = _STANDING_ZH.get(e.standing, e.standing)
        if e.correction is not None:
            result += f"（偏差 {e.correction:+.2f} °C）"
        probe: Any = [Paragraph(_escape(e.name), styles.cell),
                      Paragraph(_escape(e.hardware_id or e.key), styles.small)]
        rows.append([probe, Paragraph(_escape(last), styles.cell), result, _offset(e.offset, e.offset_source),
                     _when(e.next_due, tz, "%Y-%m-%d") if e.next_due is not None else "—"])
    flow: list[Flowable] = [_table(rows, [width * f for f in (0.24, 0.3, 0.18, 0.16, 0.12)], styles, warn)]
    changes = [(e, c) for e in entries for c in e.changes]
    if changes:
        rows = [[label(h) for h in ("时间", "探头", "修正值")]]
        rows += [[_when(c.at, tz), e.name, _offset(c.offset, c.source)] for e, c in changes]
        flow += [Spacer(1, 2 * mm), Paragraph(label("本期修正值变更"), styles.body),
                 _table(rows, [width * f for f in (0.2, 0.4, 0.4)], styles)]
    for e in entries:
        if e.replaced_at is not None:
            flow.append(Paragraph(_escape(
                f"{_when(e.replaced_at, tz)} {e.name} 更换探头（{e.replaced_id or '—'} → {e.hardware_id or '—'}）："
                f"此前后的读数来自不同探头，新探头的校准记录重新开始。"), styles.body))
    return flow


def _visitors(report: Report, styles: _Styles, width: float) -> list[Flowable]:
    section = report.visitors
    assert section is not None
    label = _labels(report.locale)
    flow: list[Flowable] = [Paragraph(_escape(
        f"来访 {section.total('visits')} 批 {section.total('people')} 人，非开放时间来访 {section.after_hours} 批，"
        f"闭门时仍在校内 {section.inside_at_closing} 批，非开放时间开门无登记 {section.unregistered_openings} 次；"
        f"学生在校期间离校 {section.total('pupils_out')} 人次，其中无离校单 {section.total('without_slip')} 人次，"
        f"逾期未返校 {section.late_back} 人次。"), styles.body)]
    rows: list[list[Any]] = [[label(h) for h in ("日期", "来访（批）", "来访人数", "学生离校", "无离校单")]]
    warn = [n + 1 for n, d in enumerate(section.days) if d.without_slip]
    rows += [[d.day, str(d.visits), str(d.people), str(d.pupils_out), str(d.without_slip)] for d in section.days]
    flow.append(_table(rows, [width * f for f in (0.28, 0.18, 0.18, 0.18, 0.18)], styles, warn))
    return flow


def _gates(report: Report, tz: ZoneInfo, styles: _Styles, width: float) -> list[Flowable]:
    gates = report.gates
    flow: list[Flowable] = [Paragraph(
        f"非开放时间开门 {len(gates.after_hours)} 次；关门检查发现未关 {len(gates.sweeps_open)} 次；"
        f"巡更 {gates.rounds_complete}/{gates.rounds_required} 轮完成。", styles.body)]
    if gates.after_hours:
        label = _labels(report.locale)
        rows: list[list[Any]] = [[label(h) for h in ("时间", "门", "情况", "处理")]]
        rows += [[_when(a.started_at, tz), a.name, a.message, _alarm_history(a, tz)] for a in gates.after_hours]
        flow.append(_table(rows, [width * f for f in (0.14, 0.2, 0.36, 0.3)], styles))
    for sweep in gates.sweeps_open:
        flow.append(Paragraph(_escape(f"{_when(sweep['closing_at'], tz)} 关门检查（{sweep['group']}）未关："
                                      + "、".join(sweep["gates"])), styles.body))
    for missed in gates.rounds_missed:
        flow.append(Paragraph(_escape(f"巡更 {missed['route']} {_when(missed['start'], tz)}–"
                                      f"{_when(missed['end'], tz, '%H:%M')} 未完成，漏巡："
                                      + "、".join(missed["missing"])), styles.body))
    return flow


def _completeness(value: float | None) -> str:
    return "无数据" if value is None else f"{value:.1%}"


def _completeness_text(c: SensorCompleteness, label: Label = str) -> str:
    """Completeness as printed: with too few readings, "数据不足" beside the share."""
    text = _completeness(c.completeness)
    return f"{text}（{label('数据不足')}）" if c.insufficient else text


def _devices(report: Report, styles: _Styles, width: float) -> list[Flowable]:
    """One row per device, then one row per sensor: a device may have any number of sensors.

    Listing a device's sensors in one cell made a row taller than a page for a device
    with ~150 sensors, and the whole report failed; rows split across pages.
    """
    if not report.devices:
        return [Paragraph("无。", styles.body)]
    label = _labels(report.locale)
    rows: list[list[Any]] = [[label(h) for h in ("设备", "状态", "运行时长", "离线", "丢弃读数", "传感器")]]
    for d in report.devices:
        worst = min((c for c in d.sensors if c.completeness is not None), key=lambda c: c.completeness or 0.0,
                    default=None)
        sensors = f"{len(d.sensors)} 个" + (f"，完整率最低 {_completeness(worst.completeness)}" if worst else "")
        rows.append([d.device, _DEVICE_STATE_ZH.get(d.state, d.state),
                     _duration(d.uptime_s) if d.uptime_s is not None else "—",
                     f"{len(d.offline)} 次，{_duration(d.offline_s)}" if d.offline else "无",
                     str(d.dropped) if d.dropped is not None else "—", sensors])
    flow: list[Flowable] = [_table(rows, [width * f for f in (0.16, 0.08, 0.14, 0.16, 0.1, 0.36)], styles)]
    sensor_rows: list[list[Any]] = [[label(h) for h in ("设备", "传感器", "收到读数", "应监测时长", "数据完整率")]]
    warn = []
    for d in report.devices:
        for c in d.sensors:
            if c.insufficient or c.completeness is None or c.completeness < COMPLETENESS_WARN:
                warn.append(len(sensor_rows))
            sensor_id = c.key.split("/", 1)[-1]
            # The name an inspector knows, the sensor's id below it in small print (a secondary reference).
            named: Any = sensor_id if not c.name or c.name in (c.key, sensor_id) else [
                Paragraph(_escape(c.name), styles.cell), Paragraph(_escape(sensor_id), styles.small)]
            sensor_rows.append([d.device, named, f"{c.received:,}", _duration(c.expected_s),
                                _completeness_text(c, label)])
    if len(sensor_rows) > 1:
        flow += [Spacer(1, 2 * mm), Paragraph(label("各传感器数据完整率"), styles.body),
                 _table(sensor_rows, [width * f for f in (0.18, 0.34, 0.14, 0.16, 0.18)], styles, warn)]
    return flow


def _signoff(report: Report, tz: ZoneInfo, styles: _Styles) -> list[Flowable]:
    flow: list[Flowable] = [Paragraph(_escape(
        f"已审核签字：{s.signer_name}（{s.signed_by}），{_when(s.signed_at, tz, '%Y-%m-%d %H:%M')}。"
        f"意见：{s.comment or '无'}"), styles.body) for s in report.signatures]
    if not flow:
        flow.append(Paragraph("食品安全管理员（签字）：______________　日期：__________　意见：______________",
                              styles.body))
    flow.append(Spacer(1, 3 * mm))
    flow.append(Paragraph(f"审计日志链首：{report.audit_head or '（空）'}", styles.cell))
    return flow


def render(report: Report, font_path: Path | None = None) -> bytes:
    """The PDF bytes of a report."""
    font = registered_font(find_font(font_path))
    styles = _Styles(font)
    tz = ZoneInfo(report.timezone)
    label = _labels(report.locale)
    name = f"{report.school}食品安全{_KIND_ZH[report.kind]}"
    where = " · ".join(part for part in (report.school or label("未设置学校名称"), report.site) if part)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=18 * mm, title=f"{name} {report.label}", author="xiaoan 校安")
    width = A4[0] - 30 * mm
    flow: list[Flowable] = [
        Paragraph(_escape(name), styles.title),
        Paragraph(_escape(f"{report.title} · 生成于 {_when(report.generated_at, tz, '%Y-%m-%d %H:%M')}"
                          f"（{report.timezone}）"), styles.subtitle),
        Paragraph(label("一、摘要"), styles.h1), *_summary(report, tz, styles, width),
        Paragraph(label("二、冷藏冷冻设备"), styles.h1),
    ]
    if not report.cold_units:
        flow.append(Paragraph("无冷藏设备数据。", styles.body))
    for unit in report.cold_units:
        flow.extend(_unit(unit, report, tz, styles, width))
    flow += [Paragraph(label("本期暂停提醒（报警照常记录，但未发通知）"), styles.h2), *_silences(report, tz, styles)]
    flow += [Paragraph(label("三、温度记录表"), styles.h1), *_log_sheet(report, tz, styles, width),
             Paragraph(label("四、食品留样"), styles.h1), *_samples(report, tz, styles, width),
             Paragraph(label("五、门岗"), styles.h1), *_gates(report, tz, styles, width),
             Paragraph(label("六、设备"), styles.h1), *_devices(report, styles, width)]
    if report.checks is not None:
        flow += [Paragraph(label("检查与隐患整改"), styles.h1), *_checks(report, tz, styles, width)]
    if report.calibration is not None:
        flow += [Paragraph(label("探头校准"), styles.h1), *_calibration(report, tz, styles, width)]
    if report.visitors is not None:
        flow += [Paragraph(label("门卫登记"), styles.h1), *_visitors(report, styles, width)]
    flow += [Paragraph(label("七、审核签字"), styles.h1), *_signoff(report, tz, styles)]

    def footer(canvas: Canvas, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7)
        # The school and site on every page: a loose page still says whose record it is.
        canvas.drawString(15 * mm, A4[1] - 9 * mm, f"{where} · {name} {report.label}")
        canvas.drawString(15 * mm, 10 * mm, f"校安 xiaoan · {report.label} · 审计 {report.audit_head[:16]}")
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, f"第 {canvas.getPageNumber()} 页")
        canvas.restoreState()

    doc.build(flow, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
