"""Records as spreadsheets (xlsx, written by openpyxl): one sheet per table, every text cell neutralised.

A school's office opens these in WPS or Excel; a name, a note or a place typed by anyone
must stay text there, never a formula, so each text cell goes through
``hub.safetext.csv_cell`` as in the CSV exports.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook

from hub.safetext import Cell, csv_cell

#: One sheet: its name, its header row and its rows (a heading of one cell per line may come first).
Sheet = tuple[str, Sequence[Cell], Sequence[Sequence[Cell]]]


def workbook(sheets: Sequence[Sheet], heading: Sequence[str] = ()) -> bytes:
    """The sheets as xlsx bytes; ``heading`` (title, period …) stands above each sheet's table."""
    book = Workbook()
    book.remove(book.active)
    for name, header, rows in sheets:
        sheet = book.create_sheet(name)
        for line in heading:
            sheet.append([csv_cell(line)])
        sheet.append([csv_cell(cell) for cell in header])
        for row in rows:
            sheet.append([csv_cell(cell) for cell in row])
        sheet.freeze_panes = f"A{len(heading) + 2}"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
