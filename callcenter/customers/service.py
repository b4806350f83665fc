"""Finding the customer behind a contact, creating the profile on first contact."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from callcenter.customers.models import Customer, CustomerIdentity
from callcenter.customers.phone import normalize_phone


async def find_or_create_by_phone(
    session: AsyncSession, raw_number: str, *, at: datetime, name: str = ""
) -> Customer | None:
    """The profile that owns this number; a new one for an unknown number.

    Anonymous callers (no number) get no profile: merging every withheld number into
    one customer would mix strangers' histories. Two controllers racing on the same new
    number both end up with the one profile the unique constraint lets through.
    """
    number = normalize_phone(raw_number)
    if not number.lstrip("+"):
        return None
    found = await _by_identity(session, "phone", number)
    if found is not None:
        if found.customer_class == "new" and found.last_contact_at is not None:
            found.customer_class = "returning"
        found.last_contact_at = at
        session.add(found)
        return found
    customer = Customer(display_name=name or number, created_at=at, last_contact_at=at)
    try:
        async with session.begin_nested():
            session.add(customer)
            await session.flush()
            assert customer.id is not None
            session.add(CustomerIdentity(customer_id=customer.id, kind="phone", value=number))
            await session.flush()
    except IntegrityError:
        return await _by_identity(session, "phone", number)
    return customer


async def _by_identity(session: AsyncSession, kind: str, value: str) -> Customer | None:
    stmt = (
        select(Customer)
        .join(CustomerIdentity, CustomerIdentity.customer_id == Customer.id)  # type: ignore[arg-type]
        .where(CustomerIdentity.kind == kind, CustomerIdentity.value == value)
    )
    return (await session.exec(stmt)).first()
