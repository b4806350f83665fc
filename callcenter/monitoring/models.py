"""Announcements supervisors post to agents' desktops (客服公告)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel


class Announcement(SQLModel, table=True):
    __tablename__ = "announcements"
    __table_args__ = (Index("ix_announcements_expires_at", "expires_at"),)

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    team: str | None = Field(default=None, max_length=64)  # None: every agent
    author_id: int | None = Field(default=None, foreign_key="users.id")
    author_name: str = Field(default="", max_length=128)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
