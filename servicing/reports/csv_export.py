"""CSV for spreadsheets. Pure.

French Excel expects `;` between cells (the comma is the decimal mark there) and reads UTF-8
only with a byte-order mark. Amounts are plain decimal strings ("-1500.50"), never floats.
A cell a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage
return) gets a leading apostrophe (OWASP's CSV injection advice), except a plain number such
as a negative amount, which must stay a number."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Final
from uuid import UUID

BOM: Final = "\ufeff"
SEPARATOR: Final = ";"
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER: Final = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")

Cell = str | int | Decimal | date | UUID | bool | None


def cell_text(value: Cell) -> str:
    """One cell as text, escaped against formula injection."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    text = value.isoformat() if isinstance(value, date) else str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    """A whole CSV document: BOM, header line, one line per row, CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=SEPARATOR, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([cell_text(name) for name in header])
    for row in rows:
        writer.writerow([cell_text(value) for value in row])
    return BOM + buffer.getvalue()
