"""Webhook signatures: the body's HMAC, and the timestamp bound to the body."""

from __future__ import annotations

import hashlib
import hmac

from callcenter.webhooks import signing

SECRET = "s3cret-s3cret-s3cret"
BODY = b'{"id":"e1","type":"ticket.created","at":"2026-11-30T09:00:00+00:00","data":{"id":1}}'


def test_the_signature_is_the_hmac_of_the_raw_body():
    h = signing.headers(SECRET, BODY, 42, "ticket.created", now=1_800_000_000.5)
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert h[signing.SIGNATURE] == f"sha256={expected}"
    assert h[signing.DELIVERY] == "42" and h[signing.TIMESTAMP] == "1800000000"
    assert signing.verify(SECRET, BODY, h[signing.SIGNATURE])


def test_verify_refuses_a_changed_body_a_wrong_secret_and_an_old_or_moved_timestamp():
    h = signing.headers(SECRET, BODY, 1, "t", now=1_800_000_000)
    sig, stamp, stamp_sig = (
        h[signing.SIGNATURE],
        h[signing.TIMESTAMP],
        h[signing.TIMESTAMP_SIGNATURE],
    )
    assert not signing.verify(SECRET, BODY + b" ", sig)
    assert not signing.verify("another-secret-xxxx", BODY, sig)
    fresh = {"timestamp": stamp, "timestamp_signature": stamp_sig}
    assert signing.verify(SECRET, BODY, sig, now=1_800_000_100, **fresh)
    assert not signing.verify(SECRET, BODY, sig, now=1_800_000_301, **fresh)
    # A replayer who sets a fresh timestamp cannot sign it.
    assert not signing.verify(SECRET, BODY, sig, timestamp="1800000900",
                              timestamp_signature=stamp_sig, now=1_800_000_900)  # fmt: skip
