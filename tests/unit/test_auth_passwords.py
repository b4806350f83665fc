"""Argon2id hashing: round trip, refusal, rehash detection, the password policy."""

from callcenter.auth.passwords import (
    FAST_INSECURE_PARAMS,
    PasswordHasher,
    PasswordParams,
    password_problem,
)


async def test_hash_and_verify():
    hasher = PasswordHasher(FAST_INSECURE_PARAMS)
    h = await hasher.hash("s3cret pass")
    assert h.startswith("$argon2id$")
    assert "s3cret" not in h
    assert await hasher.verify(h, "s3cret pass")
    assert not await hasher.verify(h, "s3cret pasS")


async def test_garbage_hash_does_not_verify_and_needs_rehash():
    hasher = PasswordHasher(FAST_INSECURE_PARAMS)
    assert not await hasher.verify("not-a-hash", "x")
    assert hasher.needs_rehash("not-a-hash")


async def test_rehash_needed_when_parameters_change():
    old = PasswordHasher(FAST_INSECURE_PARAMS)
    new = PasswordHasher(PasswordParams(time_cost=2, memory_cost_kib=16, parallelism=1))
    h = await old.hash("pw")
    assert not old.needs_rehash(h)
    assert new.needs_rehash(h)
    assert await new.verify(h, "pw")  # old hashes still verify after an upgrade


def test_production_defaults_follow_rfc9106_low_memory():
    p = PasswordParams()
    assert (p.time_cost, p.memory_cost_kib, p.parallelism) == (3, 65536, 4)


async def test_burn_spends_a_verification():
    hasher = PasswordHasher(FAST_INSECURE_PARAMS)
    await hasher.burn("whatever")  # must not raise, creates its dummy hash once
    await hasher.burn("again")


def test_password_policy():
    assert password_problem("short") is not None
    assert password_problem("x" * 2000) is not None
    assert password_problem("alice123", "Alice123") == "must differ from the username"
    assert password_problem("long enough") is None
