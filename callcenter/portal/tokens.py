"""The portal's two credentials, both signed by the server and stored nowhere.

* A ticket link (`pl.`): one ticket of one requester until it expires. The requester
  is inside the signature, so the link dies when the ticket is given another requester.
* A session (`ps.`): a customer who proved their email with a one-time code; every
  ticket they are the requester of.

`<kind>.<base64url JSON>.<HMAC>`, each kind signed with its own key (callcenter.signing),
so a link never passes for a session. An expired or altered token is refused whole.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from callcenter.clock import Clock
from callcenter.signing import Signer

LINK = "pl"
SESSION = "ps"


class BadToken(Exception):
    """Altered, unknown, or past its expiry."""


@dataclass(frozen=True)
class PortalAccess:
    customer_id: int
    ticket_id: int | None  # a link's one ticket; None: all of the customer's
    expires_at: datetime


class PortalTokens:
    def __init__(
        self, secret: str, clock: Clock, *, link_days: int = 30, session_minutes: int = 720
    ) -> None:
        self._signers = {LINK: Signer(secret, "portal-link"),
                         SESSION: Signer(secret, "portal-session")}  # fmt: skip
        self._clock = clock
        self.link_ttl = timedelta(days=link_days)
        self.session_ttl = timedelta(minutes=session_minutes)

    def link(self, ticket_id: int, requester_id: int) -> tuple[str, datetime]:
        expires = self._clock.now() + self.link_ttl
        return self._make(LINK, {"t": ticket_id, "c": requester_id}, expires), expires

    def session(self, customer_id: int) -> tuple[str, datetime]:
        expires = self._clock.now() + self.session_ttl
        return self._make(SESSION, {"c": customer_id}, expires), expires

    def read(self, token: str) -> PortalAccess:
        kind, _, rest = token.partition(".")
        payload, _, signature = rest.partition(".")
        signer = self._signers.get(kind)
        if signer is None or not signer.valid(f"{kind}.{payload}", signature):
            raise BadToken("not a portal token of this server")
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            customer_id, expires = int(claims["c"]), int(claims["e"])
            ticket_id = int(claims["t"]) if kind == LINK else None
        except (ValueError, KeyError, TypeError):
            raise BadToken("malformed portal token") from None
        if self._clock.now().timestamp() >= expires:
            raise BadToken("the portal token has expired")
        return PortalAccess(customer_id, ticket_id, datetime.fromtimestamp(expires, tz=UTC))

    def _make(self, kind: str, claims: dict[str, int], expires: datetime) -> str:
        body = json.dumps({**claims, "e": int(expires.timestamp())}, separators=(",", ":"))
        payload = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
        return f"{kind}.{payload}.{self._signers[kind].sign(f'{kind}.{payload}')}"
