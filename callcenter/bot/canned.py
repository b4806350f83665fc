"""Canned responses (快捷回复): replies an agent inserts by typing their shortcut.

Personal ones are their owner's alone (anyone else gets 404, as if absent); team ones
are everyone's to use and only `canned_responses.manage` changes them. A shortcut is
unique per owner (and among team ones); a personal one may shadow a team one.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, delete, func, insert, or_, select, update

from callcenter.auth.models import aware
from callcenter.auth.permissions import Permission, Principal
from callcenter.bot.models import CannedResponse
from callcenter.clock import Clock
from callcenter.db import Database

CANNED = CannedResponse.__table__  # type: ignore[attr-defined]
# "/refund", "/退款", "/late-delivery": a slash, then letters (any script), digits, - or _.
_SHORTCUT = re.compile(r"/?[\w-]{1,31}")
Scope = Literal["personal", "team"]


class NewCanned(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shortcut: str = Field(min_length=1, max_length=32)
    title: str = Field(min_length=1, max_length=100)
    body: str = Field(min_length=1, max_length=5000)
    language: str | None = Field(default=None, pattern="^(zh|en)$")
    scope: Scope = "personal"


class CannedChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shortcut: str | None = Field(default=None, min_length=1, max_length=32)
    title: str | None = Field(default=None, min_length=1, max_length=100)
    body: str | None = Field(default=None, min_length=1, max_length=5000)
    language: str | None = Field(default=None, pattern="^(zh|en)$")


class CannedNotFound(LookupError):
    pass


class CannedRefused(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class CannedForbidden(PermissionError):
    pass


def normal_shortcut(value: str) -> str:
    """Lowercased with its leading slash, so "/Refund" and "refund" are one shortcut."""
    text = value.strip()
    if not _SHORTCUT.fullmatch(text):
        raise CannedRefused("shortcut", "a shortcut is a word of letters, digits, - or _ "
                            "(up to 31), optionally after a /, e.g. /refund")  # fmt: skip
    return "/" + text.removeprefix("/").lower()


def _filled(field: str, value: str) -> str:
    text = value.strip()
    if not text:
        raise CannedRefused(field, "may not be empty")
    return text


def _visible(who: Principal) -> Any:
    return or_(CANNED.c.scope == "team", CANNED.c.owner_id == who.user_id)


class CannedResponses:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def search(
        self, who: Principal, *, q: str | None = None, language: str | None = None,
        scope: str | None = None, limit: int = 50,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """What `who` may use, personal first; `q` a prefix of the shortcut (with or
        without its /) or of the title; `language` keeps that language's and any-language
        ones."""
        query = select(CANNED).where(_visible(who))
        if q and q.strip():
            prefix = q.strip().lower().removeprefix("/")
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(or_(
                CANNED.c.shortcut.like("/" + escaped + "%", escape="\\"),
                func.lower(CANNED.c.title).like(escaped + "%", escape="\\")))  # fmt: skip
        if language:
            query = query.where(or_(CANNED.c.language == language, CANNED.c.language.is_(None)))
        if scope:
            query = query.where(CANNED.c.scope == scope)
        query = query.order_by(CANNED.c.scope, CANNED.c.shortcut).limit(limit)
        async with self.db.engine.connect() as conn:
            return [_canned(r) for r in (await conn.execute(query)).mappings()]

    async def get(self, who: Principal, canned_id: int) -> dict[str, Any]:
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(CANNED).where(
                CANNED.c.id == canned_id, _visible(who)))).mappings().first()  # fmt: skip
        if row is None:
            raise CannedNotFound(f"no canned response {canned_id}")
        return _canned(row)

    async def create(self, who: Principal, new: NewCanned) -> dict[str, Any]:
        if new.scope == "team" and not who.has(Permission.CANNED_RESPONSES_MANAGE):
            raise CannedForbidden("team canned responses need canned_responses.manage")
        if new.scope == "personal" and who.user_id is None:
            raise CannedRefused("scope", "only a user has personal canned responses")
        values: dict[str, Any] = {
            "shortcut": normal_shortcut(new.shortcut), "title": _filled("title", new.title),
            "body": _filled("body", new.body), "language": new.language, "scope": new.scope,
            "owner_id": who.user_id if new.scope == "personal" else None,
            "created_by": who.user_id,
        }  # fmt: skip
        now = self.clock.now()

        def store(conn: Connection) -> int:
            _shortcut_free(conn, values["shortcut"], new.scope, values["owner_id"])
            result = conn.execute(insert(CANNED).values(**values, created_at=now,
                                                        updated_at=now))  # fmt: skip
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

        return await self.get(who, await self.db.write(store))

    async def update(self, who: Principal, canned_id: int, change: CannedChange) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in change.model_fields_set:
            value = getattr(change, name)
            if name == "language":
                values[name] = value
            elif value is None:
                raise CannedRefused(name, "may not be null")
            elif name == "shortcut":
                values[name] = normal_shortcut(value)
            else:
                values[name] = _filled(name, value)
        values["updated_at"] = self.clock.now()

        def store(conn: Connection) -> None:
            row = _writable(conn, who, canned_id)
            if "shortcut" in values:
                _shortcut_free(conn, values["shortcut"], row["scope"], row["owner_id"],
                               but=canned_id)  # fmt: skip
            conn.execute(update(CANNED).where(CANNED.c.id == canned_id).values(values))

        await self.db.write(store)
        return await self.get(who, canned_id)

    async def delete(self, who: Principal, canned_id: int) -> None:
        def store(conn: Connection) -> None:
            _writable(conn, who, canned_id)
            conn.execute(delete(CANNED).where(CANNED.c.id == canned_id))

        await self.db.write(store)


def _writable(conn: Connection, who: Principal, canned_id: int) -> Any:
    """The row if `who` may change it: their own personal one, or a team one with the
    permission. Another's personal one is not found; a team one without it, forbidden."""
    query = select(CANNED).where(CANNED.c.id == canned_id, _visible(who))
    row = conn.execute(query).mappings().first()
    if row is None:
        raise CannedNotFound(f"no canned response {canned_id}")
    if row["scope"] == "team" and not who.has(Permission.CANNED_RESPONSES_MANAGE):
        raise CannedForbidden("team canned responses need canned_responses.manage")
    return row


def _shortcut_free(
    conn: Connection, shortcut: str, scope: str, owner_id: int | None, *, but: int | None = None
) -> None:
    query = select(CANNED.c.id).where(CANNED.c.shortcut == shortcut, CANNED.c.scope == scope)
    if scope == "personal":
        query = query.where(CANNED.c.owner_id == owner_id)
    if but is not None:
        query = query.where(CANNED.c.id != but)
    if conn.execute(query).first() is not None:
        where = "your canned responses" if scope == "personal" else "the team's canned responses"
        raise CannedRefused("shortcut", f"{shortcut} is already used in {where}")


def _canned(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"], "shortcut": row["shortcut"], "title": row["title"], "body": row["body"],
        "language": row["language"], "scope": row["scope"], "owner_id": row["owner_id"],
        "created_by": row["created_by"], "created_at": aware(row["created_at"]),
        "updated_at": aware(row["updated_at"]),
    }  # fmt: skip
