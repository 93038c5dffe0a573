"""Text from outside the hub, written where another program reads it: a spreadsheet, a chat message, a log.

Sensor names, units, fault texts and states come from devices; dish names, notes and
display names are typed by staff. The wire contract refuses control characters in
device text (``edge.wire.UNSAFE_TEXT_RE``), but a spreadsheet formula needs none, a
message may name things that never crossed the wire, and an older record may hold
anything. So every writer that hands such text to another program goes through one
of the helpers here, and the text arrives as data:

- ``csv_cell`` / ``CsvWriter``: a CSV cell a spreadsheet would evaluate (OWASP's rule:
  it begins with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or a line feed) is
  prefixed with a single quote. Numbers written as numbers are left as they are, so
  ``-18.5`` stays a number a spreadsheet can chart.
- ``PlainText``: a field people type into (a visitor's name, a pupil's
  class) refuses control, line-break and bidirectional characters at the request, so the
  error names the field and nothing unreadable is stored.
- ``typed_problem``: text typed into a form (a hazard report from a stranger's phone, a
  checklist item) is kept only without control or direction-override characters; the
  reason names the character, never echoes it. What is kept is shown as text, never markup.
- ``one_line``: text for a notification is one line that cannot form a link: controls
  and line breaks become spaces, ``http://`` becomes ``http[:]//`` and a host name's
  dots become ``[.]`` (the "defanged" form security teams use), so a device cannot
  forge a second acknowledge line or a clickable address in a message staff trust.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Protocol

from edge import wire
from edge.wire import UNSAFE_TEXT_PATTERN

#: A CSV cell: text (neutralised when a spreadsheet would evaluate it), or a number written as a number.
Cell = str | int | float | None
#: What OWASP lists as the start of a formula (plus the line feed, which some importers treat like CR).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value: Cell) -> Cell:
    """The cell as a spreadsheet should show it: text that would start a formula gets a leading ``'``.

    Only text is touched: an ``int`` or ``float`` is the exporter's own number, and a
    negative temperature must stay a number.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _TextOut(Protocol):
    def write(self, text: str, /) -> int: ...


class CsvWriter:
    """``csv.writer`` (CRLF lines) whose every cell passes ``csv_cell``: the one way the hub writes CSV."""

    def __init__(self, out: _TextOut) -> None:
        self._writer = csv.writer(out, lineterminator="\r\n")

    def writerow(self, row: Iterable[Cell]) -> None:
        self._writer.writerow([csv_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Cell]]) -> None:
        for row in rows:
            self.writerow(row)


_UNSAFE_RUN = re.compile(f"(?:\\s*{UNSAFE_TEXT_PATTERN})+\\s*")
#: ``scheme://`` (any scheme a client might make clickable).
_SCHEME = re.compile(r"(?i)(?<![a-z0-9+.\-])([a-z][a-z0-9+.\-]{0,15}):(?=//|\\\\)")
#: A host name: labels joined by dots, ending in a label of letters (``evil.example``, ``www.x.cn``).
_HOST = re.compile(r"(?i)(?<![a-z0-9\-.])(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(?![a-z0-9\-])")


def one_line(text: str) -> str:
    """Device or staff text for a message: one line, no clickable address; readable as what was sent."""
    flat = _UNSAFE_RUN.sub(" ", text).strip()
    flat = _SCHEME.sub(r"\1[:]", flat)
    return _HOST.sub(lambda found: found.group().replace(".", "[.]"), flat)


#: A field of one line of plain text, as people type it (the wire contract's own rule for device text);
#: each field bounds its own length.
PlainText = wire.PlainText
#: Line breaks a multi-line field may keep (every other control character is refused).
_BREAKS = re.compile(r"\r\n|\n")


def typed_problem(text: str, lines: bool = False) -> str | None:
    """Why ``text`` typed into a form is not kept (None: it is): a control or direction character.

    ``lines``: a multi-line field, whose line breaks are kept.
    """
    found = _UNSAFE_CHAR.search(_BREAKS.sub(" ", text) if lines else text)
    if found is None:
        return None
    return f"contains the control character U+{ord(found.group()):04X} · 含有不可见的控制字符"


_UNSAFE_CHAR = re.compile(UNSAFE_TEXT_PATTERN)
