"""Auth tables: users, their API tokens, and the audit log.

Datetimes are stored with `DateTime(timezone=True)`; PostgreSQL keeps the zone, SQLite
drops it; `_keep_aware` restores UTC on every row loaded, so the service never compares
a naive datetime with the clock's aware one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, overload

from sqlalchemy import JSON, Column, DateTime, Index, event
from sqlmodel import Field, SQLModel


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: datetime | None) -> datetime | None:
    """The same instant as an aware UTC datetime (SQLite returns naive ones)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _dt(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index),
    )


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(default="", max_length=128)
    role: str = Field(default="agent", max_length=16)  # see permissions.Role
    password_hash: str = Field(max_length=255)
    is_active: bool = Field(default=True)
    language: str = Field(default="en", max_length=8)
    extra_permissions: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    revoked_permissions: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_login_at: datetime | None = _dt()


class ApiToken(SQLModel, table=True):
    """A long-lived credential for scripts; only its SHA-256 is stored, never the token."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    user_id: int = Field(foreign_key="users.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_used_at: datetime | None = _dt()
    expires_at: datetime | None = _dt()
    revoked_at: datetime | None = _dt()


class AuditEntry(SQLModel, table=True):
    """One thing someone did. No foreign key to users: the record must outlive its actor."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor_id: int | None = Field(default=None, index=True)
    actor_name: str = Field(default="", max_length=64)
    actor_kind: str = Field(default="system", max_length=16)  # user|api_token|system|cli
    action: str = Field(max_length=200, index=True)
    target: str | None = Field(default=None, max_length=200)
    ip: str | None = Field(default=None, max_length=64)
    status: int | None = None
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


def _keep_aware(cls: type[SQLModel], *names: str) -> None:
    def fix(target: SQLModel, *_: Any) -> None:
        for name in names:
            value = target.__dict__.get(name)
            if isinstance(value, datetime) and value.tzinfo is None:
                # Straight into __dict__: a load-time fix is not a change to flush.
                target.__dict__[name] = value.replace(tzinfo=UTC)

    event.listen(cls, "load", fix)
    event.listen(cls, "refresh", fix)


_keep_aware(User, "created_at", "last_login_at")
_keep_aware(ApiToken, "created_at", "last_used_at", "expires_at", "revoked_at")
_keep_aware(AuditEntry, "at")
