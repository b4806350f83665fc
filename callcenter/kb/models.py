"""Knowledge-base tables: categories, entries with their similar questions, and the
embedding cache that spares a restart from embedding every entry again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    Text,
)
from sqlmodel import Field, SQLModel


class KbCategory(SQLModel, table=True):
    """A folder of entries; `parent_id` makes a tree (e.g. Billing > Invoices)."""

    __tablename__ = "kb_categories"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    parent_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("kb_categories.id", name="fk_kb_categories_parent"), nullable=True
        ),
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class KbEntry(SQLModel, table=True):
    """An article or a Q&A pair. `question` is the title of an article; `answer` its
    body (Markdown). The bot answers with `answer`."""

    __tablename__ = "kb_entries"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)  # article | qa
    language: str = Field(max_length=8, index=True)  # zh | en
    category_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("kb_categories.id", name="fk_kb_entries_category"),
            nullable=True,
            index=True,
        ),
    )
    question: str = Field(max_length=500)
    answer: str = Field(sa_column=Column(Text, nullable=False))
    tags: list[Any] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    active: bool = Field(sa_column=Column(Boolean, nullable=False))
    created_by: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("users.id", name="fk_kb_entries_created_by"), nullable=True
        ),
    )
    updated_by: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("users.id", name="fk_kb_entries_updated_by"), nullable=True
        ),
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class KbSimilarQuestion(SQLModel, table=True):
    """Another way to ask an entry's question; matched like the question itself."""

    __tablename__ = "kb_similar_questions"

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("kb_entries.id", name="fk_kb_similar_questions_entry", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    text: str = Field(max_length=500)
    position: int


class KbEmbedding(SQLModel, table=True):
    """One text's vector under one model, keyed by sha256(model, role, text): an
    unchanged entry is never embedded twice, and a model change simply misses."""

    __tablename__ = "kb_embeddings"

    key: str = Field(max_length=64, primary_key=True)
    model: str = Field(max_length=64)
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # float32, little-endian
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
