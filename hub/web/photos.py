"""Photos of a corrective action (the discarded food, the repair slip), kept under the hub's home.

The type is decided by the file's first bytes, never by its name or the browser's
claim, and only still images a phone camera makes are kept: a file that is not one
is refused, so nothing uploaded can be served back as a page or a script. Files are
named by their SHA-256, so the same photo sent twice is kept once.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from PIL import Image

from hub.errors import FieldError

#: A phone photo is 2–5 MB; larger is not a photo of a fridge.
MAX_BYTES = 8 * 1024 * 1024
#: Photos kept per alert.
MAX_PER_ALERT = 10
#: Leading bytes of the accepted formats → stored extension.
_MAGIC = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"))
MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
NAME = re.compile(r"^[0-9a-f]{64}\.(jpg|png|webp)$")


class PhotoError(FieldError):
    """An upload that is not kept (422, or 413 when too large); the message is for the person who sent it."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__("photo", message, status)


def directory(db_dir: Path) -> Path:
    return db_dir / "photos"


def sniff(data: bytes) -> str | None:
    """The extension of a JPEG, PNG or WebP image by its content; None for anything else."""
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def save(root: Path, alert_id: int | str, data: bytes, limit: int = MAX_PER_ALERT) -> str:
    """Keep ``data`` as a photo of alert ``alert_id`` (or another record's folder under ``root``); returns its
    file name or raises ``PhotoError``."""
    if not data:
        raise PhotoError("the file is empty")
    if len(data) > MAX_BYTES:
        raise PhotoError(f"larger than {MAX_BYTES // (1024 * 1024)} MB", 413)
    ext = sniff(data)
    if ext is None:
        raise PhotoError("not a JPEG, PNG or WebP image")
    folder = root / str(alert_id)
    name = f"{hashlib.sha256(data).hexdigest()}.{ext}"
    existing = listing(root, alert_id)
    if name in existing:
        return name
    if len(existing) >= limit:
        raise PhotoError(f"at most {limit} photos here · 照片数量已达上限")
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{name}.part"
    partial.write_bytes(data)
    partial.replace(folder / name)
    return name


def listing(root: Path, alert_id: int | str) -> list[str]:
    """The photos of an alert, oldest first."""
    folder = root / str(alert_id)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if NAME.fullmatch(p.name)]
    return [p.name for p in sorted(found, key=lambda p: (p.stat().st_mtime, p.name))]


def path_of(root: Path, alert_id: int | str, name: str) -> Path | None:
    """The file of one photo, or None when ``name`` is not a kept photo (no path tricks)."""
    if not NAME.fullmatch(name):
        return None
    path = root / str(alert_id) / name
    return path if path.is_file() else None


#: A list's thumbnail: the longer side in pixels (a 96 px image on a phone's 2× screen).
THUMB_PX = 192
#: Larger images are not decoded for a thumbnail (the original is served): no decompression bomb.
_THUMB_MAX_PIXELS = 40_000_000


def thumbnail(path: Path) -> Path:
    """A small JPEG of the photo at ``path`` for lists, made once beside it (``.thumbs/``); the photo itself
    when it cannot be made (an image too large to decode, or one Pillow cannot read)."""
    target = path.parent / ".thumbs" / f"{path.stem}.jpg"
    if target.is_file():
        return target
    try:
        with Image.open(path) as image:
            if image.width * image.height > _THUMB_MAX_PIXELS:
                return path
            image.thumbnail((THUMB_PX, THUMB_PX))
            target.parent.mkdir(exist_ok=True)
            partial = target.with_name(f".{target.name}.part")
            image.convert("RGB").save(partial, "JPEG", quality=80)
            partial.replace(target)
    except (OSError, ValueError, Image.DecompressionBombError):
        return path
    return target


def move(source: Path, target: Path) -> None:
    """Keep an uploaded photo with the record it now belongs to (the same content there already: drop it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        source.unlink(missing_ok=True)
    else:
        source.replace(target)
