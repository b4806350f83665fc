"""A reply address per ticket: `support+t123-<signature>@example.com`.

Plus-addressing (RFC 5233 subaddress) keeps the mailbox the sender's own, so the MTA in
front of us and the customer's mail client need nothing special. The signature is an
HMAC of the ticket id with the server's secret: without the secret nobody can write
the address of a ticket they were not mailed about, so a ticket id alone (guessable)
never lets a stranger comment on someone else's ticket. The receiver still checks that
the sender is the ticket's requester (mail.intake).
"""

from __future__ import annotations

import re

from callcenter.signing import Signer

_TAG = re.compile(r"^(?P<base>.+)\+t(?P<id>[1-9][0-9]{0,17})-(?P<sig>[a-z2-7]{16})$")


class ReplyAddresses:
    def __init__(self, secret: str, sender_address: str, domains: tuple[str, ...]) -> None:
        self._signer = Signer(secret, "ticket-reply-address")
        self._local, _, self._domain = sender_address.partition("@")
        self._domains = domains

    def for_ticket(self, ticket_id: int) -> str:
        signature = self._signer.base32(f"t{ticket_id}")
        return f"{self._local}+t{ticket_id}-{signature}@{self._domain}"

    def ticket_of(self, address: str) -> int | None:
        """The ticket a recipient address names, when its signature holds."""
        local, _, domain = address.strip().lower().rpartition("@")
        if domain not in self._domains:
            return None
        match = _TAG.match(local)
        if match is None:
            return None
        ticket_id = int(match["id"])
        if not self._signer.valid(f"t{ticket_id}", match["sig"], base32=True):
            return None
        return ticket_id
