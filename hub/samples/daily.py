"""The daily record (留样记录): one row per dish with the regulation's fields, as CSV and as a printable page.

The columns are those inspectors ask for under GB 31654-2021 and the 2019 school
food-safety rules: dish name, amount, time, sampler, reviewer, and what became of the
sample (discard time, who discarded it). Remarks say what needs explaining: under
weight, a temperature excursion while held, an early discard.
"""

from __future__ import annotations

import datetime as dt
import io
from html import escape
from zoneinfo import ZoneInfo

from hub.safetext import CsvWriter
from hub.samples import rules
from hub.samples.config import SamplesConfig
from hub.samples.store import Dish, SampleRecord

COLUMNS = ("日期", "餐次", "菜品名称", "留样量(g)", "留样时间", "留样人", "审核人", "留样柜", "最早可弃时间",
           "弃样时间", "弃样人", "备注")


def _when(ts: float | None, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M") if ts is not None else ""


def rows(records: list[SampleRecord], config: SamplesConfig, tz: ZoneInfo) -> list[dict[str, str]]:
    """One row per dish (a meal logged without its dishes yet is one row saying so)."""
    result = []
    for record in records:
        meal = config.meal_name(record.meal) + (f"（{record.occasion}）" if record.occasion else "")
        common_notes = []
        if record.excursions:
            worst = max(max(e.high, config.cabinet_high) for e in record.excursions)
            lowest = min(min(e.low, config.cabinet_low) for e in record.excursions)
            common_notes.append(f"留样期间柜温超出 {config.cabinet_low:g}–{config.cabinet_high:g} °C"
                                f"（{lowest:g}～{worst:g} °C），样品存疑")
        if record.early:
            common_notes.append("提前弃样" + (f"：{record.discard_note}" if record.discard_note else ""))
        elif record.discard_note:
            common_notes.append(record.discard_note)
        dishes: list[Dish | None] = list(record.dishes) or [None]
        for dish in dishes:
            notes = list(common_notes)
            if dish is None:
                notes.insert(0, "菜品未登记")
            elif rules.underweight(dish.weight_g, config.min_weight_g):
                notes.insert(0, f"不足 {config.min_weight_g:g} g")
            elif dish.weight_g is None:
                notes.insert(0, "未称重")
            held_until = rules.held_until(dish.logged_at, config.retention_s) if dish is not None else record.held_until
            result.append({
                "日期": record.day, "餐次": meal, "菜品名称": dish.name if dish else "",
                "留样量(g)": f"{dish.weight_g:g}" if dish is not None and dish.weight_g is not None else "",
                "留样时间": _when(dish.logged_at if dish else record.placed_at, tz),
                "留样人": record.placed_by, "审核人": record.reviewer, "留样柜": record.cabinet,
                "最早可弃时间": _when(held_until, tz), "弃样时间": _when(record.discarded_at, tz),
                "弃样人": record.discarded_by or "", "备注": "；".join(notes),
            })
    return result


def to_csv(table: list[dict[str, str]]) -> str:
    """CSV with a byte-order mark, so spreadsheet programs on Chinese Windows open it as UTF-8.

    Dish names, people and notes are typed by staff (or sent by a sample station), so
    every cell goes through ``hub.safetext.CsvWriter``: none opens as a formula.
    """
    out = io.StringIO()
    out.write("\ufeff")
    writer = CsvWriter(out)
    writer.writerow(COLUMNS)
    writer.writerows([row[column] for column in COLUMNS] for row in table)
    return out.getvalue()


_STYLE = """
body{font-family:"WenQuanYi Zen Hei","Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:16px;color:#000}
h1{font-size:1.3rem;text-align:center;margin:0 0 4px} .meta{text-align:center;margin-bottom:10px}
table{border-collapse:collapse;width:100%;font-size:.85rem} th,td{border:1px solid #000;padding:4px 6px}
th{background:#eee} td.n{text-align:right} .warn{color:#8a1c17;font-weight:bold}
.sign{margin-top:24px;display:flex;justify-content:space-between} .noprint{margin-bottom:8px}
@media print{.noprint{display:none} @page{size:A4 landscape;margin:12mm}}
"""


def to_html(day: dt.date, table: list[dict[str, str]], school: str = "") -> str:
    """A page to print and sign (A4 landscape), in Simplified Chinese."""
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    body = []
    for row in table:
        cells = []
        for column in COLUMNS:
            value = escape(row[column])
            css = ' class="n"' if column == "留样量(g)" else (' class="warn"' if column == "备注" and value else "")
            cells.append(f"<td{css}>{value}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(COLUMNS)}">当日无留样记录</td></tr>')
    weekday = "一二三四五六日"[day.weekday()]
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>留样记录 {day.isoformat()}</title><style>{_STYLE}</style></head><body>
<div class="noprint"><a href="/samples/daily?date={(day - dt.timedelta(days=1)).isoformat()}">前一天</a> ·
<a href="/samples/daily?date={(day + dt.timedelta(days=1)).isoformat()}">后一天</a> ·
<a href="/api/samples/daily.csv?date={day.isoformat()}">下载 CSV</a> ·
<a href="javascript:window.print()">打印</a></div>
<h1>{escape(school)}食品留样记录</h1>
<div class="meta">日期：{day.isoformat()}（星期{weekday}）</div>
<table><tr>{head}</tr>{"".join(body)}</table>
<div class="sign"><span>留样人签字：__________</span><span>审核人签字：__________</span>
<span>食品安全管理员：__________</span></div>
</body></html>"""
