"""Sensitive-word tables: the listed phrases, and the alerts their matches raised."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

SEVERITIES = ("warn", "critical")
SOURCES = ("call", "chat")


class SensitiveWord(SQLModel, table=True):
    """A phrase of one language's list. Stored normalized (matcher.normal_phrase), so
    "Refund" and "refund " are one phrase and the unique key sees them as such."""

    __tablename__ = "sensitive_words"
    __table_args__ = (
        UniqueConstraint("language", "phrase", name="uq_sensitive_words_language_phrase"),
    )

    id: int | None = Field(default=None, primary_key=True)
    phrase: str = Field(max_length=200)
    language: str = Field(max_length=8)  # zh | en
    severity: str = Field(max_length=16)  # warn | critical
    active: bool = Field(sa_column=Column(Boolean, nullable=False))
    created_by: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("users.id", name="fk_sensitive_words_created_by"), nullable=True
        ),
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class SensitiveAlert(SQLModel, table=True):
    """One listed phrase said (or written) in one piece of a call or chat. The phrase is
    copied, so the alert still reads right after the list changes; `match_start` and
    `match_end` locate it in `excerpt` for highlighting."""

    __tablename__ = "sensitive_alerts"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=8)  # call | chat
    source_id: str = Field(max_length=64, index=True)  # the call's (or chat's) id
    ref: str | None = Field(default=None, max_length=64)  # e.g. a transcript segment id
    phrase_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey(
                "sensitive_words.id", name="fk_sensitive_alerts_phrase", ondelete="SET NULL"
            ),
            nullable=True,
        ),
    )
    phrase: str = Field(max_length=200)
    language: str = Field(max_length=8)
    severity: str = Field(max_length=16)
    agent_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("users.id", name="fk_sensitive_alerts_agent"), nullable=True
        ),
    )
    excerpt: str = Field(sa_column=Column(Text, nullable=False))
    match_start: int = Field(default=0)
    match_end: int = Field(default=0)
    created_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )
    acknowledged_by: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("users.id", name="fk_sensitive_alerts_acknowledged_by"),
            nullable=True,
        ),
    )
    acknowledged_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
