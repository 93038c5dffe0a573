"""QR codes the hub draws itself (no image service): an SVG as a data URL, for a page or a printed sheet."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg


def svg_data_url(text: str, border: int = 2) -> str:
    """``text`` as a QR code: an SVG (paths only, no script) in a ``data:`` URL an ``<img>`` can show."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=border)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
