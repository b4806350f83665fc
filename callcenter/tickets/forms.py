"""Ticket types' forms: the custom fields a ticket of a type carries, and their check.

A form is an ordered list of fields (key, labels, kind, required, choices). A ticket's
`custom_fields` must fit its type's form exactly: every required key present, every
value of its field's kind, no key the form does not list. Pure logic: the service runs
it inside the write's transaction, with the form it read there.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from callcenter.customers.fields import MAX_FIELD_VALUE, MAX_FIELDS

Kind = Literal["text", "number", "boolean", "choice", "date"]
KINDS: tuple[str, ...] = ("text", "number", "boolean", "choice", "date")
MAX_CHOICES = 100
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Key = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")]  # customers' keys
Label = Annotated[str, Field(min_length=1, max_length=100)]
Choice = Annotated[str, Field(min_length=1, max_length=100)]


class FormField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key
    label_en: Label
    label_zh: Label
    kind: Kind
    required: bool = False
    choices: Annotated[list[Choice], Field(max_length=MAX_CHOICES)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _choices_fit_the_kind(self) -> FormField:
        if self.kind == "choice":
            if not self.choices:
                raise ValueError(f"{self.key}: a choice field needs choices")
            if len(set(self.choices)) != len(self.choices):
                raise ValueError(f"{self.key}: choices are listed twice")
        elif self.choices:
            raise ValueError(f"{self.key}: only a choice field has choices")
        return self


def _unique_keys(fields: list[FormField]) -> list[FormField]:
    seen: set[str] = set()
    for f in fields:
        if f.key in seen:
            raise ValueError(f"key {f.key!r} is listed twice")
        seen.add(f.key)
    return fields


Form = Annotated[list[FormField], Field(max_length=MAX_FIELDS), AfterValidator(_unique_keys)]


class FormError(ValueError):
    """`custom_fields.<key>` is refused; the message says why."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def check_values(form: list[FormField], values: dict[str, Any]) -> None:
    """Nothing when `values` fit `form`; FormError for the first key that does not.

    Keys are checked in the form's order, then unknown keys in the ticket's order, so
    the error named is the one a person filling the form meets first.
    """
    by_key = {f.key: f for f in form}
    for f in form:
        if f.key not in values:
            if f.required:
                raise FormError(f.key, f"{f.key} is required")
            continue
        _check_value(f, values[f.key])
    for key in values:
        if key not in by_key:
            known = ", ".join(by_key) or "none"
            raise FormError(key, f"{key} is not a field of this type's form (fields: {known})")


def _check_value(f: FormField, value: Any) -> None:
    if f.kind == "text":
        if not isinstance(value, str):
            raise FormError(f.key, f"{f.key}: a text")
        if f.required and not value.strip():
            raise FormError(f.key, f"{f.key} is required")
        if len(value) > MAX_FIELD_VALUE:
            raise FormError(f.key, f"{f.key}: at most {MAX_FIELD_VALUE} characters")
    elif f.kind == "number":
        # bool is an int in Python, but `true` is not a number to anyone filling a form.
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise FormError(f.key, f"{f.key}: a number")
    elif f.kind == "boolean":
        if not isinstance(value, bool):
            raise FormError(f.key, f"{f.key}: true or false")
    elif f.kind == "choice":
        if value not in f.choices:
            raise FormError(f.key, f"{f.key}: one of {', '.join(f.choices)}")
    elif f.kind == "date" and (
        not isinstance(value, str) or not _DATE.match(value) or not _is_date(value)
    ):
        raise FormError(f.key, f"{f.key}: a date as YYYY-MM-DD")


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def parse_form(stored: list[dict[str, Any]]) -> list[FormField]:
    """A form as the table stores it (validated when it was saved)."""
    return [FormField.model_validate(f) for f in stored]


# ---------------------------------------------------------------------- request bodies

TypeName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class NewType(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: TypeName
    label_en: Label
    label_zh: Label
    form: Form = Field(default_factory=list)


class TypeChange(BaseModel):
    """Fields a PATCH may set; `active: false` deactivates (types are never deleted)."""

    model_config = ConfigDict(extra="forbid")

    label_en: Label | None = None
    label_zh: Label | None = None
    active: bool | None = None
    form: Form | None = None
