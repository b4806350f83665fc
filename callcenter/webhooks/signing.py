"""How a receiver knows a delivery is ours and fresh (docs/automation.md#verifying).

`X-Callcenter-Signature: sha256=<hex>` is the HMAC-SHA256 of the raw body with the
webhook's secret. The body carries the event's id, so a receiver can drop a repeat.
Against replay by someone who captured a request, `X-Callcenter-Timestamp` (Unix
seconds of this attempt) is bound to the body by `X-Callcenter-Timestamp-Signature`,
the HMAC of `"<timestamp>." + body`: a receiver refuses requests older than a few
minutes and remembers delivery ids for that long.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE = "X-Callcenter-Signature"
TIMESTAMP = "X-Callcenter-Timestamp"
TIMESTAMP_SIGNATURE = "X-Callcenter-Timestamp-Signature"
DELIVERY = "X-Callcenter-Delivery"
EVENT = "X-Callcenter-Event"
TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign_timestamped(secret: str, timestamp: str, body: bytes) -> str:
    return sign(secret, timestamp.encode() + b"." + body)


def headers(secret: str, body: bytes, delivery_id: int, event_type: str,
            now: float) -> dict[str, str]:  # fmt: skip
    stamp = str(int(now))
    return {
        "Content-Type": "application/json",
        "User-Agent": "callcenter-webhooks/1",
        SIGNATURE: sign(secret, body),
        TIMESTAMP: stamp,
        TIMESTAMP_SIGNATURE: sign_timestamped(secret, stamp, body),
        DELIVERY: str(delivery_id),
        EVENT: event_type,
    }


def verify(
    secret: str,
    body: bytes,
    signature: str,
    *,
    timestamp: str | None = None,
    timestamp_signature: str | None = None,
    now: float | None = None,
    tolerance: float = TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does (the docs show the same in a few lines): the body's
    signature, and when a timestamp is given, its signature and its age."""
    if not hmac.compare_digest(sign(secret, body), signature):
        return False
    if timestamp is None:
        return True
    if timestamp_signature is None or not hmac.compare_digest(
        sign_timestamped(secret, timestamp, body), timestamp_signature
    ):
        return False
    try:
        age = (time.time() if now is None else now) - int(timestamp)
    except ValueError:
        return False
    return abs(age) <= tolerance
