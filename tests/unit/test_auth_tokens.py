"""JWT access tokens and `cc_` API tokens, with time from a FixedClock."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from callcenter.auth.tokens import (
    TokenError,
    decode_access_token,
    encode_access_token,
    generate_api_token,
    hash_api_token,
    is_api_token,
)
from callcenter.clock import FixedClock

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


@pytest.fixture
def clock():
    return FixedClock(datetime(2026, 1, 1, 8, 0, tzinfo=UTC))


def _token(clock, ttl=timedelta(minutes=30), secret=SECRET):
    return encode_access_token(user_id=7, role="agent", secret=secret, now=clock.now(), ttl=ttl)


def test_round_trip(clock):
    claims = decode_access_token(_token(clock), secret=SECRET, now=clock.now())
    assert claims.user_id == 7
    assert claims.role == "agent"
    assert claims.expires_at == clock.now() + timedelta(minutes=30)


def test_expiry_follows_the_clock(clock):
    token = _token(clock)
    clock.advance(timedelta(minutes=29, seconds=59))
    decode_access_token(token, secret=SECRET, now=clock.now())
    clock.advance(timedelta(seconds=1))
    with pytest.raises(TokenError, match="expired"):
        decode_access_token(token, secret=SECRET, now=clock.now())


def test_wrong_secret_and_tampering_rejected(clock):
    with pytest.raises(TokenError):
        decode_access_token(_token(clock, secret="other" * 8), secret=SECRET, now=clock.now())
    header, _payload, sig = _token(clock).split(".")
    forged = jwt.encode({"sub": "1", "exp": 2**40, "typ": "access"}, "x" * 40).split(".")[1]
    with pytest.raises(TokenError):
        decode_access_token(f"{header}.{forged}.{sig}", secret=SECRET, now=clock.now())


def test_unsigned_and_foreign_tokens_rejected(clock):
    exp = int((clock.now() + timedelta(hours=1)).timestamp())
    unsigned = jwt.encode({"sub": "1", "exp": exp, "typ": "access"}, None, algorithm="none")
    with pytest.raises(TokenError):
        decode_access_token(unsigned, secret=SECRET, now=clock.now())
    other_kind = jwt.encode({"sub": "1", "exp": exp, "typ": "refresh"}, SECRET)
    with pytest.raises(TokenError, match="not an access token"):
        decode_access_token(other_kind, secret=SECRET, now=clock.now())
    with pytest.raises(TokenError):
        decode_access_token("garbage", secret=SECRET, now=clock.now())


def test_api_tokens():
    a, b = generate_api_token(), generate_api_token()
    assert a != b
    assert is_api_token(a) and a.startswith("cc_") and len(a) > 40
    assert not is_api_token("eyJhbGciOi")
    assert len(hash_api_token(a)) == 64
    assert hash_api_token(a) == hash_api_token(a) != hash_api_token(b)
