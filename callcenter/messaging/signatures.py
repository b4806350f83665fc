"""The two signature schemes: the generic webhook's HMAC and WeChat's sha1 check."""

from __future__ import annotations

import hashlib
import hmac


def body_signature(secret: str, body: bytes) -> str:
    """`X-Signature` of a webhook channel's request, both directions."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_signed(secret: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(body_signature(secret, body), header.strip().lower())


def wechat_signature(token: str, timestamp: str, nonce: str) -> str:
    """sha1 of token, timestamp and nonce sorted and joined (the 公众号 server check)."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def wechat_signed(token: str, timestamp: str, nonce: str, signature: str) -> bool:
    return hmac.compare_digest(wechat_signature(token, timestamp, nonce), signature.lower())
