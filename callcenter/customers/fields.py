"""What a profile may hold: one set of rules for the API, the CSV import and the CRM.

Each rule raises `ValueError` with a message for one field, so pydantic reports it as a
field-level 422 wherever the value came from.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from callcenter.customers.models import CLASSES
from callcenter.customers.phone import normalize_phone

MAX_TAGS = 50
MAX_TAG = 40
MAX_FIELDS = 50
MAX_FIELD_VALUE = 1000
MAX_FIELDS_BYTES = 8192  # the whole object as JSON
_TAG = re.compile(r"^[\w\- .:/]+$")  # \w: letters of every script, Chinese included
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_CHAT = re.compile(r"^[\w.:@\-]{1,255}$")
IDENTITY_KINDS = ("phone", "email", "chat")


def normalize_tags(tags: list[str]) -> list[str]:
    """Trimmed, lowercase, deduplicated and sorted: "VIP " and "vip" are one tag."""
    out: set[str] = set()
    for raw in tags:
        tag = " ".join(raw.split()).lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG or not _TAG.match(tag):
            raise ValueError(f"tag {raw!r}: at most {MAX_TAG} letters, digits, - _ . : /")
        out.add(tag)
    if len(out) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return sorted(out)


def check_custom_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A flat object: identifier keys, string/number/boolean values, 8 KB at most."""
    if len(fields) > MAX_FIELDS:
        raise ValueError(f"at most {MAX_FIELDS} custom fields")
    for key, value in fields.items():
        if not _KEY.match(key):
            raise ValueError(f"key {key!r}: letters, digits and _, starting with a letter")
        if value is None or not isinstance(value, str | int | float | bool):
            raise ValueError(f"{key}: a string, number or boolean")
        if isinstance(value, str) and len(value) > MAX_FIELD_VALUE:
            raise ValueError(f"{key}: at most {MAX_FIELD_VALUE} characters")
    if len(json.dumps(fields, ensure_ascii=False).encode()) > MAX_FIELDS_BYTES:
        raise ValueError(f"at most {MAX_FIELDS_BYTES} bytes as JSON")
    return fields


def check_class(value: str) -> str:
    value = value.strip().lower()
    if value not in CLASSES:
        raise ValueError(f"one of {', '.join(CLASSES)}")
    return value


def check_region(value: str) -> str:
    value = value.strip().upper()
    if value and not re.fullmatch(r"[A-Z]{2}", value):
        raise ValueError("an ISO 3166 two-letter region such as CN, or empty")
    return value


def normalize_identity(kind: str, raw: str) -> str:
    """The one spelling stored for an identity; ValueError when it is not one."""
    if kind == "phone":
        value = normalize_phone(raw)
        if len(value.lstrip("+")) < 3 or len(value) > 32:
            raise ValueError(f"{raw!r} is not a phone number")
        return value
    if kind == "email":
        value = raw.strip().lower()
        if len(value) > 254 or not _EMAIL.match(value):
            raise ValueError(f"{raw!r} is not an email address")
        return value
    if kind == "chat":
        value = raw.strip()
        if not _CHAT.match(value):
            raise ValueError(f"{raw!r}: 1-255 letters, digits and . : @ _ -")
        return value
    raise ValueError(f"one of {', '.join(IDENTITY_KINDS)}")


Tags = Annotated[list[str], AfterValidator(normalize_tags)]
CustomFields = Annotated[dict[str, Any], AfterValidator(check_custom_fields)]
Class = Annotated[str, AfterValidator(check_class)]
Region = Annotated[str, AfterValidator(check_region)]
Name = Annotated[str, Field(max_length=200)]
Notes = Annotated[str, Field(max_length=10_000)]
Source = Annotated[str, Field(max_length=128)]


class ProfileChange(BaseModel):
    """Fields a PATCH may set; those left out keep their values."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    customer_class: Class | None = Field(default=None, alias="class")
    tags: Tags | None = None
    custom_fields: CustomFields | None = None
    source: Source | None = None
    region: Region | None = None
    notes: Notes | None = None


class NewIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern="^(phone|email|chat)$")
    value: str = Field(min_length=1, max_length=255)


class NewProfile(ProfileChange):
    """A profile made by hand (or by an import row): its identities come with it."""

    phones: list[str] = Field(default_factory=list, max_length=20)
    emails: list[str] = Field(default_factory=list, max_length=20)
    chats: list[str] = Field(default_factory=list, max_length=20)

    def identities(self) -> list[tuple[str, str]]:
        """(kind, normalized value) pairs; ValueError naming the field of a bad one."""
        pairs: list[tuple[str, str]] = []
        for field, kind in (("phones", "phone"), ("emails", "email"), ("chats", "chat")):
            for raw in getattr(self, field):
                try:
                    pairs.append((kind, normalize_identity(kind, raw)))
                except ValueError as exc:
                    raise IdentityError(field, str(exc)) from None
        return list(dict.fromkeys(pairs))


class IdentityError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class CrmAnswer(BaseModel):
    """What the CRM lookup webhook may answer; unknown keys are ignored, bad ones refuse
    the whole answer (the profile is left as it was)."""

    display_name: Name | None = None
    customer_class: Class | None = Field(default=None, alias="class")
    tags: Tags = Field(default_factory=list)
    custom_fields: CustomFields = Field(default_factory=dict)
    external_id: str | None = Field(default=None, max_length=128)
