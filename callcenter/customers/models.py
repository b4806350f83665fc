"""Customer tables. The full profile (tags, classes, custom fields) grows with the CRM issue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(default="", max_length=200)
    customer_class: str = Field(default="new", max_length=32)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_contact_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class CustomerIdentity(SQLModel, table=True):
    """A way to reach a customer; (kind, value) is unique so a number maps to one profile."""

    __tablename__ = "customer_identities"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_customer_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    kind: str = Field(max_length=16)  # phone | email | chat
    value: str = Field(max_length=255)
