"""Reports as CSV: the same rows as the JSON, one line each, the same numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def to_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """Header and rows; a missing value (a rate with nothing to count) is an empty cell.

    Numbers are written as Python (and JSON) print them, so a spreadsheet and an API
    client read the same figures.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 line ends
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return out.getvalue()
