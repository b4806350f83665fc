"""What a ticket may hold, as request bodies: a bad value is a field-level 422.

Tags and custom fields follow the customers' rules (customers.fields), so one tag is
spelled one way across profiles and tickets.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from callcenter.customers.fields import CustomFields, Tags

# A configured ticket type's name; whether it exists and is active is checked against
# the ticket_types table in the write (tickets.types), like the group and the requester.
Type = Annotated[str, Field(min_length=1, max_length=32)]
Priority = Literal["low", "normal", "high", "urgent"]
Status = Literal["new", "open", "pending", "on_hold", "solved", "closed"]
Source = Literal["api", "call", "email", "chat"]
Subject = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=20_000)]
Id = Annotated[int, Field(gt=0)]


class NewTicket(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Subject
    description: Description = ""
    type: Type = "consultation"
    priority: Priority = "normal"
    requester_id: Id
    group_id: Id
    assignee_id: Id | None = None
    tags: Tags = Field(default_factory=list)
    custom_fields: CustomFields = Field(default_factory=dict)
    source: Source = "api"
    call_id: Id | None = None


class TicketChange(BaseModel):
    """Fields a PATCH may set; those left out keep their values. `assignee_id: null`
    unassigns. The requester, source and call stay what the ticket was made with."""

    model_config = ConfigDict(extra="forbid")

    subject: Subject | None = None
    description: Description | None = None
    type: Type | None = None
    priority: Priority | None = None
    status: Status | None = None
    group_id: Id | None = None
    assignee_id: Id | None = None
    tags: Tags | None = None
    custom_fields: CustomFields | None = None


class NewComment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, Field(min_length=1, max_length=10_000)]
    public: bool  # no default: a reply the customer reads is never an accident


class NewGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_\-]*$")]


class Members(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_ids: Annotated[list[Id], Field(max_length=1000)]
