"""One row per utterance: who spoke, when on the call's timeline, and what was heard.

`start` and `end` are seconds from the call's answer (its start when it was never
answered), so the desktop lays every segment, live or voicemail, on one timeline;
`spoken_at` is the same instant as wall time, for searching by date. `words` is the text
as the search index sees it (jieba words, lowercased, space-separated): SQLite's FTS5
table and PostgreSQL's GIN index are built from it (migration 0019), so the same
tokenizer serves both backends and Chinese words are searchable on both.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Float, ForeignKey, Index, Integer, Text
from sqlmodel import Field, SQLModel


class TranscriptSegment(SQLModel, table=True):
    __tablename__ = "transcript_segments"
    __table_args__ = (Index("ix_transcript_segments_spoken_at", "spoken_at"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("calls.id", name="fk_transcript_segments_call"),
            nullable=False,
            index=True,
        )
    )
    speaker: str = Field(max_length=8)  # "caller" | "agent"
    agent_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("users.id", name="fk_transcript_segments_agent"), nullable=True
        ),
    )
    start: float = Field(sa_column=Column(Float, nullable=False))
    end: float = Field(sa_column=Column(Float, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    confidence: float = Field(sa_column=Column(Float, nullable=False))
    language: str = Field(max_length=16)
    source: str = Field(max_length=16)  # "live" | "voicemail"
    words: str = Field(sa_column=Column(Text, nullable=False))
    spoken_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
