"""Calibration certificates (a PDF from the calibration lab, or a photo of the paper), kept under the hub's home.

The same rules as the photos of corrective actions (hub.web.photos): the type is decided
by the file's first bytes, never by its name or the browser's claim; only a PDF or a
still image a phone camera makes is kept, at most ``photos.MAX_BYTES``; files are named
by their SHA-256. A PDF is served as a download (``Content-Disposition: attachment``),
never shown inline as a page of the hub.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from hub.errors import FieldError
from hub.web import photos

MEDIA_TYPES = {**photos.MEDIA_TYPES, "pdf": "application/pdf"}
NAME = re.compile(r"^[0-9a-f]{64}\.(jpg|png|webp|pdf)$")


class CertificateError(FieldError):
    """An upload that is not kept (422, or 413 when too large)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__("certificate", message, status)


def directory(db_dir: Path) -> Path:
    return db_dir / "certificates"


def sniff(data: bytes) -> str | None:
    """``pdf`` for a PDF, the photo's extension for a JPEG, PNG or WebP image, None for anything else."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    return photos.sniff(data)


def save(root: Path, check_id: int, data: bytes) -> str:
    """Keep ``data`` as the certificate of check ``check_id``; returns its file name or raises."""
    if not data:
        raise CertificateError("the file is empty · 文件为空")
    if len(data) > photos.MAX_BYTES:
        raise CertificateError(f"larger than {photos.MAX_BYTES // (1024 * 1024)} MB", 413)
    ext = sniff(data)
    if ext is None:
        raise CertificateError("not a PDF, JPEG, PNG or WebP file · 请上传 PDF 或照片")
    folder = root / str(check_id)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{hashlib.sha256(data).hexdigest()}.{ext}"
    partial = folder / f".{name}.part"
    partial.write_bytes(data)
    partial.replace(folder / name)
    return name


def path_of(root: Path, check_id: int, name: str) -> Path | None:
    """The file of a kept certificate, or None when ``name`` is not one (no path tricks)."""
    if not NAME.fullmatch(name):
        return None
    path = root / str(check_id) / name
    return path if path.is_file() else None
