"""Profiles as CSV: the export, and the import that creates or updates by identity.

Columns (docs/customers.md): id, name, class, tags, phones, emails, chats, region,
source, notes, created_at, custom_fields. Lists (tags, phones, emails, chats) are
separated by ";"; custom_fields is a JSON object. The export starts with a UTF-8 byte
order mark so spreadsheet programs read Chinese names right; the import accepts a file
with or without it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from callcenter.customers.fields import IdentityError, NewProfile

COLUMNS = ("id", "name", "class", "tags", "phones", "emails", "chats", "region", "source",
           "notes", "created_at", "custom_fields")  # fmt: skip
LISTS = ("tags", "phones", "emails", "chats")
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000


@dataclass(frozen=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1
    field: str
    message: str

    def public(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "msg": self.message}


class ImportRejected(ValueError):
    """The file is refused as a whole; nothing was stored."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the file")
        self.errors = errors


@dataclass(frozen=True)
class ImportRow:
    row: int
    profile: NewProfile
    identities: list[tuple[str, str]]
    created_at: datetime | None


def to_csv(profiles: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for p in profiles:
        ids = {kind: [i["value"] for i in p["identities"] if i["kind"] == kind]
               for kind in ("phone", "email", "chat")}  # fmt: skip
        writer.writerow([
            p["id"], p["name"], p["class"], ";".join(p["tags"]), ";".join(ids["phone"]),
            ";".join(ids["email"]), ";".join(ids["chat"]), p["region"], p["source"], p["notes"],
            p["created_at"], json.dumps(p["custom_fields"], ensure_ascii=False)
            if p["custom_fields"] else "",
        ])  # fmt: skip
    return out.getvalue()


def parse(data: bytes) -> list[ImportRow]:
    """Every row checked; ImportRejected listing every problem (row and column)."""
    if len(data) > MAX_BYTES:
        raise ImportRejected([RowError(0, "file", f"larger than {MAX_BYTES} bytes")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected([RowError(0, "file", f"not UTF-8: {exc.reason}")]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    unknown = [name for name in header if name not in COLUMNS]
    if unknown or not {"phones", "emails", "chats"} & set(header):
        problem = f"unknown columns {unknown}" if unknown else "no phones, emails or chats column"
        raise ImportRejected([RowError(1, "header", f"{problem}; columns: {', '.join(COLUMNS)}")])
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, str], int] = {}  # identity -> the row that has it first
    for record in reader:
        number = reader.line_num
        if len(rows) + len(errors) >= MAX_ROWS:
            errors.append(RowError(number, "file", f"more than {MAX_ROWS} rows"))
            break
        if None in record:  # more cells than columns
            errors.append(RowError(number, "row", "more cells than the header has columns"))
            continue
        row, problems = _row(number, record)
        errors.extend(problems)
        if row is None:
            continue
        rows.append(row)
        for kind, value in row.identities:
            if (kind, value) in seen:
                field = {"phone": "phones", "email": "emails", "chat": "chats"}[kind]
                errors.append(
                    RowError(number, field, f"{value} is also in row {seen[kind, value]}")
                )
            seen.setdefault((kind, value), number)
    if errors:
        raise ImportRejected(errors)
    return rows


def _row(number: int, record: dict[str, str]) -> tuple[ImportRow | None, list[RowError]]:
    cells = {k: (v or "").strip() for k, v in record.items() if k in COLUMNS}
    body: dict[str, Any] = {}
    for name in LISTS:
        if parts := [part.strip() for part in cells.get(name, "").split(";") if part.strip()]:
            body[name] = parts
    for name in ("name", "class", "region", "source", "notes"):
        if cells.get(name):  # an empty cell leaves the stored value alone
            body[name] = cells[name]
    errors: list[RowError] = []
    if cells.get("custom_fields"):
        try:
            fields = json.loads(cells["custom_fields"])
        except json.JSONDecodeError:
            fields = None
        if isinstance(fields, dict):
            body["custom_fields"] = fields
        else:
            errors.append(RowError(number, "custom_fields", "not a JSON object"))
    created_at = None
    if cells.get("created_at"):
        try:
            created_at = datetime.fromisoformat(cells["created_at"])
            if created_at.tzinfo is None:
                created_at = created_at.replace(tzinfo=UTC)
        except ValueError:
            errors.append(RowError(number, "created_at", "not an ISO 8601 time"))
    try:
        profile = NewProfile.model_validate(body)
        identities = profile.identities()
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "row"
            errors.append(RowError(number, field, err["msg"]))
        return None, errors
    except IdentityError as exc:
        return None, [*errors, RowError(number, exc.field, exc.message)]
    if not identities:
        errors.append(RowError(number, "phones", "a phone, email or chat id is needed"))
    if errors:
        return None, errors
    return ImportRow(number, profile, identities, created_at), []
