"""Printable sample labels (PDF): one label per page, sized for a label printer.

Each box gets a QR code of its label code (scanned back at the station), the meal,
the dish, when it was placed and the earliest time it may be discarded. The QR code
is drawn as vector squares (crisp on a 203 dpi thermal head). Chinese needs a CJK
TrueType font; Debian's ``fonts-wqy-zenhei`` is the default, ``samples.label_font``
names another.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import qrcode
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from hub.samples.config import LABEL_PREFIX, SamplesConfig
from hub.samples.store import Dish, SampleRecord

#: Where Debian (fonts-wqy-zenhei) and other distributions put WenQuanYi Zen Hei.
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc"),
)
_registered: dict[Path, str] = {}
_register_lock = threading.Lock()


class LabelFontMissing(FileNotFoundError):
    """No font with Chinese glyphs: labels would print as empty boxes."""


def find_font(configured: Path | None = None) -> Path:
    """The CJK font file to use, or LabelFontMissing saying how to install one."""
    if configured is not None:
        if configured.is_file():
            return configured
        raise LabelFontMissing(f"samples.label_font: {configured} does not exist")
    for candidate in FONT_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise LabelFontMissing("no Chinese font for sample labels: install Debian's fonts-wqy-zenhei "
                           "(apt-get install fonts-wqy-zenhei, or scripts/install-deps.sh) "
                           "or set samples.label_font to a TrueType font with CJK glyphs")


def registered_font(path: Path) -> str:
    """Register the CJK font file with reportlab once per process; return its reportlab name."""
    with _register_lock:
        name = _registered.get(path)
        if name is None:
            name = f"XiaoanCJK{len(_registered)}"
            # A .ttc holds several faces; the first of wqy-zenhei is "WenQuanYi Zen Hei".
            pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=0))
            _registered[path] = name
        return name


def _qr(canvas: Canvas, data: str, x: float, y: float, size: float) -> None:
    code = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    cell = size / len(matrix)
    canvas.setFillColorRGB(0, 0, 0)
    for row_index, row in enumerate(matrix):
        for col_index, dark in enumerate(row):
            if dark:
                canvas.rect(x + col_index * cell, y + size - (row_index + 1) * cell, cell, cell, stroke=0, fill=1)


def _fit(canvas: Canvas, text: str, font: str, size: float, width: float) -> float:
    """The largest font size up to ``size`` at which ``text`` fits in ``width``."""
    while size > 5 and canvas.stringWidth(text, font, size) > width:
        size -= 0.5
    return size


def _when(ts: float, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(ts, tz).strftime("%m-%d %H:%M")


def render_labels(record: SampleRecord, config: SamplesConfig, tz: ZoneInfo, dishes: list[Dish] | None = None) -> bytes:
    """A PDF with one label per dish (or one for the meal when no dish is listed yet)."""
    font = registered_font(find_font(config.label_font))
    width, height = config.label_size_mm[0] * mm, config.label_size_mm[1] * mm
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(width, height))
    canvas.setTitle(f"留样标签 {record.day} {config.meal_name(record.meal)}")
    chosen = dishes if dishes is not None else record.dishes
    fallback = f"record-{record.id}"
    entries: list[tuple[str, str, float | None, float, float]] = [
        (LABEL_PREFIX + (d.code or fallback), d.name, d.weight_g, d.logged_at, d.logged_at + config.retention_s)
        for d in chosen] or [(LABEL_PREFIX + fallback, "（菜品待登记）", None, record.placed_at, record.held_until)]
    margin = 2 * mm
    qr_size = min(height - 2 * margin - 4 * mm, width * 0.42)
    for code, name, weight, placed, until in entries:
        _qr(canvas, code, margin, height - margin - qr_size, qr_size)
        canvas.setFont(font, 6)
        canvas.drawString(margin, margin, code)
        left = margin * 2 + qr_size
        text_width = width - left - margin
        meal = config.meal_name(record.meal) + (f"·{record.occasion}" if record.occasion else "")
        lines = [
            (f"留样 {record.day} {meal}", 7.0),
            (name, 11.0),
            (f"重量 {weight:g} g" if weight is not None else "重量 ____ g", 7.0),
            (f"留样 {_when(placed, tz)}", 7.0),
            (f"可弃 {_when(until, tz)} 后", 8.0),
            (f"留样人 {record.placed_by or '______'}", 6.5),
        ]
        y = height - margin
        for text, wanted in lines:
            size = _fit(canvas, text, font, wanted, text_width)
            y -= size * 1.25
            canvas.setFont(font, size)
            canvas.drawString(left, y, text)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()
