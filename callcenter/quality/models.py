"""Quality tables: scorecards (versioned) and the reviews scored against them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class Scorecard(SQLModel, table=True):
    """One version of a scorecard. A version that reviews use is never changed in what
    it scores (its criteria): editing them makes a new version of the same `family_id`,
    so an old review's score keeps the meaning it had when it was given."""

    __tablename__ = "quality_scorecards"
    __table_args__ = (UniqueConstraint("family_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    family_id: int | None = Field(default=None, index=True)  # the first version's id
    version: int = 1
    current: bool = True  # the family's newest version: the only one edited or used anew
    name: str = Field(max_length=128)
    labels: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    active: bool = True  # offered for new reviews
    # [{key, label: {en, zh}, weight, max_points, critical}], in the form's order.
    criteria: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Review(SQLModel, table=True):
    """A reviewer's scores for one call against one scorecard version."""

    __tablename__ = "quality_reviews"
    __table_args__ = (
        # One review per call, reviewer and scorecard (any version): a second opinion is
        # another reviewer's; a correction is an amendment of the same review.
        UniqueConstraint("call_id", "reviewer_id", "scorecard_family_id"),
        Index("ix_quality_reviews_agent_call_started", "agent_id", "call_started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="calls.id", index=True)
    # Copied from the call when reviewed: summaries group by who and when without a join.
    agent_id: int = Field(foreign_key="users.id")
    call_started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    reviewer_id: int | None = Field(default=None, foreign_key="users.id")
    scorecard_id: int = Field(foreign_key="quality_scorecards.id")
    scorecard_family_id: int
    scorecard_version: int
    # [{key, points, comment}], one per criterion of the scorecard version.
    items: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    score: float  # 0–100, see callcenter.quality.scoring
    critical_failed: bool = False
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    acknowledged_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
