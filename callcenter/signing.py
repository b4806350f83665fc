"""Keyed signatures (HMAC-SHA256) for what the server hands out and must recognise later:
a ticket's reply address, a portal link, a portal session.

Each use has its own purpose string mixed into the key, so a signature made for one
(a reply address) is never valid as another (a portal link) even over the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


class Signer:
    def __init__(self, secret: str, purpose: str) -> None:
        self._key = hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()

    def digest(self, data: str) -> bytes:
        return hmac.new(self._key, data.encode(), hashlib.sha256).digest()

    def sign(self, data: str, *, length: int = 43) -> str:
        """Base64url (no padding) of the MAC, cut to `length` characters."""
        return base64.urlsafe_b64encode(self.digest(data)).decode().rstrip("=")[:length]

    def base32(self, data: str, *, length: int = 16) -> str:
        """Lowercase base32 of the MAC: for mail local parts, which may be case-folded
        on the way back (RFC 5321 says they should not be; some MTAs do)."""
        return base64.b32encode(self.digest(data)).decode().lower()[:length]

    def valid(self, data: str, signature: str, *, base32: bool = False) -> bool:
        expected = (
            self.base32(data, length=len(signature))
            if base32
            else self.sign(data, length=len(signature))
        )
        # A too-short signature would be easy to guess: the caller's format fixes the
        # length, and anything shorter than 16 characters is refused here anyway.
        return len(signature) >= 16 and hmac.compare_digest(expected, signature)
