"""Who may see which customer: the object-level rule every customer endpoint applies.

Supervisors and admins (`customers.read_all`) see every profile. Anyone else sees the
customers they served: a call of that customer they handled (`calls.agent_id`). When
tickets arrive, "a ticket of that customer in one of my groups" is one more `or_` term
in `visible()`, and `Scope` gains the reader's groups; nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, false, select, true

from callcenter.auth.permissions import Permission, Principal
from callcenter.calls.models import Call

CALLS = Call.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Scope:
    everyone: bool  # customers.read_all
    user_id: int | None = None

    @classmethod
    def of(cls, principal: Principal) -> Scope:
        return cls(principal.has(Permission.CUSTOMERS_READ_ALL), principal.user_id)


ALL = Scope(everyone=True)


def visible(scope: Scope, customer_id: Any) -> Any:
    """A SQL condition: the customer whose id is `customer_id` (a column) is visible."""
    if scope.everyone:
        return true()
    if scope.user_id is None:  # an API token without a user behind it and no read_all
        return false()
    served = select(CALLS.c.id).where(
        CALLS.c.customer_id == customer_id, CALLS.c.agent_id == scope.user_id
    )
    return exists(served)
