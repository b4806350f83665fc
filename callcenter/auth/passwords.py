"""Password hashing with Argon2id, off the event loop.

Hashing is deliberately slow and memory-hard; run on the loop it would stall every call
the controller is handling, so both hash and verify go to a worker thread.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # bound the work an attacker can make one request cost


@dataclass(frozen=True, slots=True)
class PasswordParams:
    """Argon2id cost. Defaults: RFC 9106 §4 second recommended option (low memory):
    t=3, 64 MiB, p=4, 128-bit salt, 256-bit tag."""

    time_cost: int = 3
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 4


# The cheapest parameters argon2 accepts; for tests only, where hashing must be instant.
FAST_INSECURE_PARAMS = PasswordParams(time_cost=1, memory_cost_kib=8, parallelism=1)


class PasswordHasher:
    """Argon2id hash/verify plus the checks login needs (rehash, unknown-user timing)."""

    def __init__(self, params: PasswordParams | None = None) -> None:
        p = params or PasswordParams()
        self._hasher = argon2.PasswordHasher(
            time_cost=p.time_cost,
            memory_cost=p.memory_cost_kib,
            parallelism=p.parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )
        self._dummy_hash: str | None = None

    def hash_sync(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the stored hash was made with other parameters than today's."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hash_sync, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.to_thread(self.verify_sync, password_hash, password)

    async def burn(self, password: str) -> None:
        """Spend the time of one verification, so an unknown username takes as long to
        reject as a wrong password and response times do not reveal which users exist."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash("dummy password for timing only")
        await self.verify(self._dummy_hash, password)


def password_problem(password: str, username: str = "") -> str | None:
    """Why this password is refused, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters"
    if username and password.lower() == username.lower():
        return "must differ from the username"
    return None
