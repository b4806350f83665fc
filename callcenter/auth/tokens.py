"""Bearer credentials: short-lived JWT access tokens and long-lived `cc_` API tokens.

JWTs need no database lookup to verify their signature; API tokens are random strings
whose SHA-256 alone is stored, so a database leak does not leak usable tokens. (A slow
hash is unnecessary: 256 random bits cannot be guessed, unlike a password.)
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

API_TOKEN_PREFIX = "cc_"
JWT_ALGORITHM = "HS256"
JWT_TYPE = "access"


class TokenError(Exception):
    """The credential is malformed, forged, expired or of the wrong kind."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    role: str
    expires_at: datetime


def generate_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def is_api_token(token: str) -> bool:
    return token.startswith(API_TOKEN_PREFIX)


def hash_api_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def encode_access_token(
    *, user_id: int, role: str, secret: str, now: datetime, ttl: timedelta
) -> str:
    exp = now + ttl
    claims = {
        "sub": str(user_id),  # RFC 7519 §4.1.2: a string; PyJWT enforces it
        "role": role,
        "typ": JWT_TYPE,
        "iat": int(now.timestamp()),
        "exp": int(exp.timestamp()),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def decode_access_token(token: str, *, secret: str, now: datetime) -> AccessClaims:
    """Verify signature and expiry against `now` (the service clock, not the wall clock,
    so expiry is testable without sleeping)."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],  # pinned: never let the token choose "none"
            options={"verify_exp": False, "verify_iat": False, "require": ["sub", "exp"]},
        )
    except jwt.PyJWTError as exc:
        raise TokenError(str(exc)) from None
    if claims.get("typ") != JWT_TYPE:
        raise TokenError("not an access token")
    try:
        user_id = int(claims["sub"])
        exp = int(claims["exp"])
    except (TypeError, ValueError):
        raise TokenError("malformed claims") from None
    if exp <= now.timestamp():
        raise TokenError("token expired")
    return AccessClaims(
        user_id=user_id,
        role=str(claims.get("role", "")),
        expires_at=datetime.fromtimestamp(exp, tz=now.tzinfo),
    )
