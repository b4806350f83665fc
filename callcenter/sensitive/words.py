"""The phrase lists as stored rows: list, create, import, change, delete.

Every check that needs the database (a duplicate phrase, the row exists) runs inside the
write's transaction, so a refused request stores nothing. After a change, `on_change`
runs: the service drops its matcher and tells the other processes (service.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from callcenter.auth.models import aware
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.sensitive.matcher import LANGUAGES, normal_phrase
from callcenter.sensitive.models import SEVERITIES, SensitiveWord

WORDS = SensitiveWord.__table__  # type: ignore[attr-defined]
MAX_PHRASE = 200


class FieldError(ValueError):
    """A value refused for one field of the request body (`field`: its name)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class WordNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Imported:
    """What a bulk import did: rows created, and phrases skipped as already listed."""

    created: list[dict[str, Any]]
    skipped: list[str]


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        known = ", ".join(LANGUAGES)
        raise FieldError("language", f"unknown language {language!r}: one of {known}")
    return language


def check_severity(severity: str) -> str:
    if severity not in SEVERITIES:
        known = ", ".join(SEVERITIES)
        raise FieldError("severity", f"unknown severity {severity!r}: one of {known}")
    return severity


def check_phrase(phrase: str, language: str, field: str = "phrase") -> str:
    normal = normal_phrase(phrase, language)
    if not normal:
        raise FieldError(field, "the phrase is empty")
    if len(normal) > MAX_PHRASE:
        raise FieldError(field, f"the phrase is longer than {MAX_PHRASE} characters")
    return normal


def _taken(conn: Connection, language: str, phrase: str, but: int | None = None) -> bool:
    query = select(WORDS.c.id).where(WORDS.c.language == language, WORDS.c.phrase == phrase)
    if but is not None:
        query = query.where(WORDS.c.id != but)
    return conn.execute(query).first() is not None


class WordStore:
    def __init__(
        self, db: Database, clock: Clock, on_change: Callable[[], Awaitable[None]]
    ) -> None:
        self.db = db
        self.clock = clock
        self.on_change = on_change

    async def listing(
        self, *, language: str | None = None, active: bool | None = None
    ) -> list[dict[str, Any]]:
        """By language, then phrase."""
        query = select(WORDS).order_by(WORDS.c.language, WORDS.c.phrase)
        if language is not None:
            query = query.where(WORDS.c.language == language)
        if active is not None:
            query = query.where(WORDS.c.active.is_(active))
        async with self.db.engine.connect() as conn:
            return [public(r) for r in (await conn.execute(query)).mappings()]

    async def get(self, word_id: int) -> dict[str, Any]:
        async with self.db.engine.connect() as conn:
            found = (await conn.execute(select(WORDS).where(WORDS.c.id == word_id))).mappings()
            row = found.first()
        if row is None:
            raise WordNotFound(word_id)
        return public(row)

    async def create(
        self, phrase: str, language: str, severity: str, active: bool, created_by: int | None
    ) -> dict[str, Any]:
        check_language(language)
        check_severity(severity)
        normal = check_phrase(phrase, language)
        now = self.clock.now()

        def store(conn: Connection) -> int:
            if _taken(conn, language, normal):
                raise FieldError("phrase", f"{normal!r} is already on the {language} list")
            query = insert(WORDS).values(
                phrase=normal, language=language, severity=severity, active=active,
                created_by=created_by, created_at=now,
            ).returning(WORDS.c.id)  # fmt: skip
            return int(conn.execute(query).scalar_one())

        created = await self.get(await self.db.write(store))
        await self.on_change()
        return created

    async def import_lines(
        self, text: str, language: str, severity: str, created_by: int | None
    ) -> Imported:
        """One phrase per line; blank lines and lines starting with # are left out.
        Phrases already listed (or repeated in the text) are skipped, so importing the
        same file twice changes nothing; a line too long refuses the whole import."""
        check_language(language)
        check_severity(severity)
        phrases: list[str] = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if len(normal := normal_phrase(line, language)) > MAX_PHRASE:
                raise FieldError("text", f"line {n}: longer than {MAX_PHRASE} characters")
            phrases.append(normal)
        if not phrases:
            raise FieldError("text", "no phrase in the text")
        now = self.clock.now()

        def store(conn: Connection) -> tuple[list[int], list[str]]:
            ids: list[int] = []
            skipped: list[str] = []
            seen: set[str] = set()
            for phrase in phrases:
                if phrase in seen or _taken(conn, language, phrase):
                    skipped.append(phrase)
                    continue
                seen.add(phrase)
                query = insert(WORDS).values(
                    phrase=phrase, language=language, severity=severity, active=True,
                    created_by=created_by, created_at=now,
                ).returning(WORDS.c.id)  # fmt: skip
                ids.append(int(conn.execute(query).scalar_one()))
            return ids, skipped

        ids, skipped = await self.db.write(store)
        if ids:
            await self.on_change()
        created = [w for w in await self.listing(language=language) if w["id"] in set(ids)]
        return Imported(created=created, skipped=skipped)

    async def update(self, word_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change some of phrase, language, severity, active (those in `changes`)."""
        if "severity" in changes:
            check_severity(changes["severity"])
        if "language" in changes:
            check_language(changes["language"])
        if "active" in changes and not isinstance(changes["active"], bool):
            raise FieldError("active", "true or false")

        def store(conn: Connection) -> None:
            row = conn.execute(select(WORDS).where(WORDS.c.id == word_id)).mappings().first()
            if row is None:
                raise WordNotFound(word_id)
            language = changes.get("language", row["language"])
            phrase = check_phrase(changes.get("phrase", row["phrase"]), language)
            if _taken(conn, language, phrase, but=word_id):
                raise FieldError("phrase", f"{phrase!r} is already on the {language} list")
            values = {k: v for k, v in changes.items() if k in ("severity", "active")}
            conn.execute(
                update(WORDS)
                .where(WORDS.c.id == word_id)
                .values(phrase=phrase, language=language, **values)
            )

        await self.db.write(store)
        await self.on_change()
        return await self.get(word_id)

    async def delete(self, word_id: int) -> None:
        def store(conn: Connection) -> None:
            if conn.execute(delete(WORDS).where(WORDS.c.id == word_id)).rowcount == 0:
                raise WordNotFound(word_id)

        await self.db.write(store)
        await self.on_change()


def public(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {"id": row["id"], "phrase": row["phrase"], "language": row["language"],
            "severity": row["severity"], "active": bool(row["active"]),
            "created_by": row["created_by"], "created_at": aware(row["created_at"])}  # fmt: skip
