"""Bot tables: the questions it could not answer, their clusters offered to admins as
new knowledge-base entries, and agents' canned responses (快捷回复)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Float, ForeignKey, Integer, Text
from sqlmodel import Field, SQLModel

SUGGESTION_STATES = ("open", "accepted", "dismissed")
SCOPES = ("personal", "team")


class BotSuggestion(SQLModel, table=True):
    """A cluster of similar unanswered questions, offered to admins as a new entry.
    Accepting it creates `entry_id`; dismissing keeps it, so its questions are not
    offered again."""

    __tablename__ = "bot_suggestions"

    id: int | None = Field(default=None, primary_key=True)
    language: str = Field(max_length=8)  # zh | en
    representative: str = Field(max_length=500)  # the member question nearest the centre
    status: str = Field(max_length=16, index=True)  # open | accepted | dismissed
    entry_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("kb_entries.id", name="fk_bot_suggestions_entry", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    decided_by: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("users.id", name="fk_bot_suggestions_decided_by"), nullable=True
        ),
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class BotUnanswered(SQLModel, table=True):
    """A visitor question the bot did not answer, or answered only with "did you mean".
    `suggestion_id` is null until the clustering job has placed it."""

    __tablename__ = "bot_unanswered"

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(max_length=500)
    language: str = Field(max_length=8)
    best_entry_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("kb_entries.id", name="fk_bot_unanswered_best_entry", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    best_score: float = Field(sa_column=Column(Float, nullable=False))  # its confidence
    conversation_id: str | None = Field(default=None, max_length=64, index=True)
    suggestion_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("bot_suggestions.id", name="fk_bot_unanswered_suggestion"),
            nullable=True,
            index=True,
        ),
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class CannedResponse(SQLModel, table=True):
    """A reply an agent inserts by its shortcut (`/refund`). `personal` ones belong to
    `owner_id`; `team` ones (owner null) are everyone's and kept by admins. `language`
    null: any conversation."""

    __tablename__ = "canned_responses"

    id: int | None = Field(default=None, primary_key=True)
    shortcut: str = Field(max_length=32, index=True)
    title: str = Field(max_length=100)
    body: str = Field(sa_column=Column(Text, nullable=False))
    language: str | None = Field(default=None, max_length=8)
    scope: str = Field(max_length=16)  # personal | team
    owner_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("users.id", name="fk_canned_responses_owner", ondelete="CASCADE"),
            nullable=True,
            index=True,
        ),
    )
    created_by: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("users.id", name="fk_canned_responses_created_by"), nullable=True
        ),
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
