"""Customer tables: the profile, and the identities (phone, email, chat) that lead to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

# The classes a profile can have. The IVR and routing branch on them (`vip` first);
# "new" becomes "returning" on a second contact (service.find_or_create_by_phone).
CLASSES = ("new", "returning", "prospect", "member", "vip")


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(default="", max_length=200)
    customer_class: str = Field(default="new", max_length=32)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_contact_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    # Lowercase, deduplicated, sorted (fields.normalize_tags).
    tags: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    # Flat JSON object: validated keys, str/number/bool values (fields.check_custom_fields).
    custom_fields: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    # Where the customer first came from: "phone:<number dialed>", "outbound", "import", …
    source: str = Field(default="", max_length=128, sa_column_kwargs={"server_default": ""})
    # ISO region: from the first number's country code, or set by hand.
    region: str = Field(default="", max_length=8, sa_column_kwargs={"server_default": ""})
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    # The profile's id in the company's CRM, from the CRM lookup webhook.
    external_id: str = Field(default="", max_length=128, sa_column_kwargs={"server_default": ""})
    # Set when this profile was merged into another: the row stays so the old id resolves.
    merged_into: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("customers.id", name="fk_customers_merged_into"),
            nullable=True,
            index=True,
        ),
    )


class CustomerIdentity(SQLModel, table=True):
    """A way to reach a customer; (kind, value) is unique so a number maps to one profile."""

    __tablename__ = "customer_identities"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_customer_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    kind: str = Field(max_length=16)  # phone | email | chat
    value: str = Field(max_length=255)
