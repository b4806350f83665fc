"""One-time login codes of the customer portal; only their hashes are kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, Integer
from sqlmodel import Field, SQLModel


class PortalCode(SQLModel, table=True):
    __tablename__ = "portal_codes"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, index=True)
    customer_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("customers.id", name="fk_portal_codes_customer"), nullable=False
        )
    )
    code_hash: str = Field(max_length=64)  # HMAC-SHA256 hex of the code, keyed by the secret
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    used_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
