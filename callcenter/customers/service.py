"""Finding the customer behind a contact, creating the profile on first contact."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from callcenter.customers.models import Customer, CustomerIdentity
from callcenter.customers.phone import normalize_phone

CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
IDENTITIES = CustomerIdentity.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ContactProfile:
    """The profile a contact belongs to, as a call needs it: its id and its class."""

    customer_id: int
    customer_class: str


def find_or_create_by_phone(
    conn: Connection, raw_number: str, *, at: datetime, name: str = ""
) -> ContactProfile | None:
    """The profile that owns this number; a new one for an unknown number.

    Anonymous callers (no number) get no profile: merging every withheld number into
    one customer would mix strangers' histories. Two controllers racing on the same new
    number both end up with the one profile the unique constraint lets through.

    Plain SQL statements on the caller's (blocking) connection, not the ORM: this runs
    for every arriving call, on the database writer thread (`Database.write`).
    """
    number = normalize_phone(raw_number)
    if not number.lstrip("+"):
        return None
    found = _by_identity(conn, "phone", number, at)
    if found is not None:
        return found
    try:
        with conn.begin_nested():
            created = insert(CUSTOMERS).values(
                display_name=name or number, customer_class="new", created_at=at, last_contact_at=at
            )
            customer_id = (conn.execute(created.returning(CUSTOMERS.c.id))).scalar_one()
            conn.execute(
                insert(IDENTITIES).values(customer_id=customer_id, kind="phone", value=number)
            )
    except IntegrityError:
        return _by_identity(conn, "phone", number, at)
    return ContactProfile(customer_id, "new")


def _by_identity(conn: Connection, kind: str, value: str, at: datetime) -> ContactProfile | None:
    """The profile owning (kind, value), its last contact moved to `at`.

    A "new" customer who was in touch before becomes "returning" on this contact.
    """
    stmt = (
        select(CUSTOMERS.c.id, CUSTOMERS.c.customer_class, CUSTOMERS.c.last_contact_at)
        .join(IDENTITIES, IDENTITIES.c.customer_id == CUSTOMERS.c.id)
        .where(IDENTITIES.c.kind == kind, IDENTITIES.c.value == value)
    )
    row = (conn.execute(stmt)).first()
    if row is None:
        return None
    customer_id, customer_class, last_contact = row
    if customer_class == "new" and last_contact is not None:
        customer_class = "returning"
    conn.execute(
        update(CUSTOMERS)
        .where(CUSTOMERS.c.id == customer_id)
        .values(customer_class=customer_class, last_contact_at=at)
    )
    return ContactProfile(customer_id, customer_class)
