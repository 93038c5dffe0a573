"""The gate register on paper and in a spreadsheet: the day's 门卫登记簿 and the month's summary.

Rows come masked from ``hub.visitors.register``; here they are only laid out: the PDF
with the weekly report's table and fonts (``hub.report.pdf``), the xlsx with every text
cell passed through ``hub.safetext.csv_cell`` like the CSV export, so a visitor's
"organisation" cannot become a formula in the safety officer's spreadsheet.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer
from reportlab.platypus.flowables import Flowable

from hub.report.pdf import Styles, escape, table
from hub.report.xlsx import workbook
from hub.samples.labels import find_font, registered_font
from hub.visitors.register import LEAVE_HEADER, MONTH_HEADER, VISIT_HEADER, DayRegister, MonthRegister

Row = Sequence[str | int]
#: Column widths (mm) of the day's two tables on a landscape A4 page.
_VISIT_MM = (9, 18, 24, 30, 22, 34, 10, 20, 28, 14, 14, 12, 16)
_LEAVE_MM = (9, 22, 22, 60, 18, 18, 18, 24, 24, 32)
_MONTH_MM = (30, 25, 25, 30, 25, 30, 30)


def _pdf(title: str, subtitle: str, sections: Sequence[tuple[str, Row, Sequence[Row], Sequence[float]]],
         font_path: Path | None) -> bytes:
    styles = Styles(registered_font(find_font(font_path)))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm, title=title, author="xiaoan 校安")
    flow: list[Flowable] = [Paragraph(escape(title), styles.title), Paragraph(escape(subtitle), styles.subtitle)]
    for heading, header, rows, widths in sections:
        flow += [Paragraph(escape(heading), styles.h1)]
        if not rows:
            flow.append(Paragraph("无。", styles.body))
            continue
        body = [[str(cell) for cell in row] for row in (header, *rows)]
        flow.append(table(body, [w * mm for w in widths], styles))
    flow += [Spacer(1, 8 * mm), Paragraph("门卫签字：＿＿＿＿＿＿　　安全员审核：＿＿＿＿＿＿", styles.body)]
    doc.build(flow)
    return buffer.getvalue()


def day_pdf(book: DayRegister, font_path: Path | None = None) -> bytes:
    """The day's 门卫登记簿 as a landscape A4 PDF."""
    return _pdf(f"{book.school}门卫登记簿", f"{book.day.isoformat()} · 个人信息已脱敏",
                [("一、来访人员", VISIT_HEADER, book.visits, _VISIT_MM),
                 ("二、学生在校期间离校", LEAVE_HEADER, book.leaves, _LEAVE_MM)], font_path)


def month_pdf(book: MonthRegister, font_path: Path | None = None) -> bytes:
    return _pdf(f"{book.school}门卫登记月汇总", f"{book.month}",
                [("每日汇总", MONTH_HEADER, [*book.days, book.totals], _MONTH_MM)], font_path)


def day_xlsx(book: DayRegister) -> bytes:
    """The day's book as a workbook: visitors and pupils on two sheets, every text cell neutralised."""
    return workbook([("来访人员", VISIT_HEADER, book.visits), ("学生离校", LEAVE_HEADER, book.leaves)])


def month_xlsx(book: MonthRegister) -> bytes:
    return workbook([("月汇总", MONTH_HEADER, [*book.days, book.totals])])
