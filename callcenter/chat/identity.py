"""Visitors a site vouches for: the site signs its user's id, name, e-mail and the time
with a secret it shares with us, so a visitor cannot claim to be someone else.

The signature is hex HMAC-SHA256 over "id\\nname\\nemail\\ntimestamp" (UTF-8) with the
site's secret; the timestamp (Unix seconds) bounds how long a signed page stays valid,
so a leaked signature is useless after `max_age`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass


class IdentityRefused(ValueError):
    """The site's signature does not hold: unknown site, bad signature, or too old."""


@dataclass(frozen=True)
class SignedIdentity:
    external_id: str
    name: str
    email: str
    timestamp: int
    signature: str


def signed_text(external_id: str, name: str, email: str, timestamp: int) -> str:
    return f"{external_id}\n{name}\n{email}\n{timestamp}"


def sign(secret: str, external_id: str, name: str, email: str, timestamp: int) -> str:
    """What the site's back end computes (docs/chat.md has it in several languages)."""
    text = signed_text(external_id, name, email, timestamp)
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def parse_sites(raw: str) -> dict[str, str]:
    """`site=secret,site2=secret2` as a mapping; blanks ignored."""
    sites: dict[str, str] = {}
    for part in raw.split(","):
        name, sep, secret = part.strip().partition("=")
        if sep and name.strip() and secret.strip():
            sites[name.strip()] = secret.strip()
    return sites


def verify(
    sites: dict[str, str], site: str, identity: SignedIdentity, now: float, max_age: int
) -> None:
    """Raise IdentityRefused unless `site` signed `identity` within `max_age` seconds."""
    secret = sites.get(site)
    if secret is None:
        raise IdentityRefused(f"site {site!r} does not sign identities")
    if not identity.external_id or len(identity.external_id) > 128:
        raise IdentityRefused("the identity needs an id of 1-128 characters")
    expected = sign(secret, identity.external_id, identity.name, identity.email,
                    identity.timestamp)  # fmt: skip
    if not hmac.compare_digest(expected, identity.signature.lower()):
        raise IdentityRefused("bad signature")
    # A little slack into the future for clocks that differ between the two servers.
    if not -300 <= now - identity.timestamp <= max_age:
        raise IdentityRefused("the signature has expired")
