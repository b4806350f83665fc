"""The auth domain: users, logins, bearer tokens and the audit log.

Callers (HTTP routes, the CLI, `callcenter up`) pass a `Principal` as `actor` for every
change, so the service can both refuse privilege escalation and audit who did it.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy import insert as sa_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from callcenter.auth.models import ApiToken, AuditEntry, User, aware
from callcenter.auth.passwords import PasswordHasher, PasswordParams, password_problem
from callcenter.auth.permissions import (
    GUARDED_PERMISSIONS,
    Permission,
    Principal,
    Role,
    effective_permissions,
)
from callcenter.auth.ratelimit import RateLimiter, SlidingWindowLimiter
from callcenter.auth.tokens import (
    TokenError,
    decode_access_token,
    encode_access_token,
    generate_api_token,
    hash_api_token,
    is_api_token,
)
from callcenter.clock import Clock
from callcenter.config import Settings
from callcenter.db import Database

__all__ = [
    "AuthError",
    "AuthService",
    "ConflictError",
    "DemoUser",
    "InvalidCredentials",
    "InvalidToken",
    "NotFoundError",
    "PermissionDenied",
    "Principal",
    "RateLimited",
    "ValidationError",
]

log = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[a-z0-9._-]{3,64}$")
LANGUAGES = ("en", "zh")
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
MAX_TOKEN_DAYS = 3650


class AuthError(Exception):
    """Base of every error the auth service reports to its callers."""


class ValidationError(AuthError):
    """A field has a value the service refuses; `field` names it for a 422 message."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ConflictError(ValidationError):
    """The value clashes with existing state (a taken username, the last admin)."""


class NotFoundError(AuthError):
    pass


class PermissionDenied(AuthError):
    pass


class InvalidCredentials(AuthError):
    """Wrong username or password; deliberately does not say which."""


class InvalidToken(AuthError):
    pass


class RateLimited(AuthError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed attempts; retry in {retry_after}s")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    role: str
    password: str | None  # None when the user already existed
    generated: bool


def permissions_of(user: User) -> frozenset[Permission]:
    return effective_permissions(user.role, user.extra_permissions, user.revoked_permissions)


def _principal(user: User, kind: str = "user", token_id: int | None = None) -> Principal:
    assert user.id is not None
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        permissions=permissions_of(user),
        kind="api_token" if kind == "api_token" else "user",
        token_id=token_id,
    )


class AuthService:
    """Users, credentials and audit; one instance per process (see `services.py`)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        *,
        password_params: PasswordParams | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.passwords = PasswordHasher(password_params)
        self.limiter: RateLimiter = limiter or SlidingWindowLimiter(
            settings.login_attempts_per_minute, timedelta(minutes=1), clock
        )

    @property
    def access_token_ttl(self) -> timedelta:
        return timedelta(minutes=self.settings.access_token_minutes)

    # -- users ---------------------------------------------------------------------------

    async def create_user(
        self,
        username: str,
        password: str,
        role: str,
        display_name: str | None = None,
        *,
        language: str = "en",
        actor: Principal | None = None,
        check_password: bool = True,
    ) -> User:
        username = username.strip()
        if not USERNAME_RE.match(username):
            raise ValidationError(
                "username", "use 3-64 characters: lowercase letters, digits, '.', '_' or '-'"
            )
        _check_role(role)
        _check_language(language)
        display_name = _check_display_name(display_name if display_name else username)
        if check_password and (problem := password_problem(password, username)):
            raise ValidationError("password", problem)
        self._check_can_grant(actor, effective_permissions(role))
        user = User(
            username=username,
            display_name=display_name,
            role=role,
            password_hash=await self.passwords.hash(password),
            language=language,
            created_at=self.clock.now(),
        )
        async with self.db.session() as s:
            if await _user_by_name(s, username) is not None:
                raise ConflictError("username", "already taken")
            s.add(user)
            try:
                await s.commit()
            except IntegrityError:
                # Lost a race with another creator of the same name.
                raise ConflictError("username", "already taken") from None
            await s.refresh(user)
        await self.audit(actor, "user.create", target=_target(user), details={"role": role})
        return user

    async def get_user(self, user_id: int) -> User:
        async with self.db.session() as s:
            user = await s.get(User, user_id)
        if user is None:
            raise NotFoundError(f"no user {user_id}")
        return user

    async def get_user_by_username(self, username: str) -> User:
        async with self.db.session() as s:
            user = await _user_by_name(s, username.strip().lower())
        if user is None:
            raise NotFoundError(f"no user {username!r}")
        return user

    async def list_users(self, *, include_inactive: bool = True) -> list[User]:
        stmt = select(User).order_by(col(User.username))
        if not include_inactive:
            stmt = stmt.where(col(User.is_active).is_(True))
        async with self.db.session() as s:
            return list((await s.exec(stmt)).all())

    async def update_user(
        self,
        user_id: int,
        *,
        role: str | None = None,
        display_name: str | None = None,
        language: str | None = None,
        is_active: bool | None = None,
        extra_permissions: Sequence[str] | None = None,
        revoked_permissions: Sequence[str] | None = None,
        password: str | None = None,
        actor: Principal | None = None,
    ) -> User:
        """Apply the given changes (None = leave as is) in one transaction, one audit row."""
        changes: dict[str, Any] = {}
        new_hash = None
        async with self.db.session() as s:
            user = await s.get(User, user_id)
            if user is None:
                raise NotFoundError(f"no user {user_id}")
            self._check_can_grant(actor, permissions_of(user))
            if role is not None and role != user.role:
                _check_role(role)
                changes["role"] = role
            if display_name is not None and display_name != user.display_name:
                changes["display_name"] = _check_display_name(display_name)
            if language is not None and language != user.language:
                _check_language(language)
                changes["language"] = language
            if is_active is not None and is_active != user.is_active:
                changes["is_active"] = is_active
            if extra_permissions is not None:
                changes["extra_permissions"] = _check_permissions(
                    "extra_permissions", extra_permissions
                )
            if revoked_permissions is not None:
                changes["revoked_permissions"] = _check_permissions(
                    "revoked_permissions", revoked_permissions
                )
            after = effective_permissions(
                changes.get("role", user.role),
                changes.get("extra_permissions", user.extra_permissions),
                changes.get("revoked_permissions", user.revoked_permissions),
            )
            self._check_can_grant(actor, after)
            if password is not None:
                if problem := password_problem(password, user.username):
                    raise ValidationError("password", problem)
                new_hash = await self.passwords.hash(password)
            if (
                user.role == Role.ADMIN
                and user.is_active
                and (
                    changes.get("role", Role.ADMIN) != Role.ADMIN
                    or changes.get("is_active", True) is False
                )
            ):
                await self._keep_one_admin(s, user, "role" if "role" in changes else "is_active")
            for name, value in changes.items():
                setattr(user, name, value)
            if new_hash is not None:
                user.password_hash = new_hash
            s.add(user)
            await s.commit()
            await s.refresh(user)
        if changes or new_hash is not None:
            details = dict(changes)
            if new_hash is not None:
                details["password"] = "changed"  # the fact, never the value
            await self.audit(actor, "user.update", target=_target(user), details=details)
        return user

    async def set_password(
        self, user_id: int, password: str, actor: Principal | None = None
    ) -> User:
        return await self.update_user(user_id, password=password, actor=actor)

    async def deactivate(self, user_id: int, actor: Principal | None = None) -> User:
        return await self.update_user(user_id, is_active=False, actor=actor)

    async def ensure_demo_users(self) -> list[DemoUser]:
        """Create the demo admin, supervisor and two agents when missing.

        Passwords come from settings or are generated and returned (once) so `callcenter up`
        can print them; configured passwords skip the strength policy, since development
        installs commonly use `admin`/`admin`.
        """
        wanted = [
            ("admin", Role.ADMIN, self.settings.admin_password),
            ("supervisor", Role.SUPERVISOR, self.settings.supervisor_password),
            ("agent1", Role.AGENT, self.settings.agent_password),
            ("agent2", Role.AGENT, self.settings.agent_password),
        ]
        system = Principal.operator("system", kind="system")
        result: list[DemoUser] = []
        for username, role, secret in wanted:
            async with self.db.session() as s:
                exists = await _user_by_name(s, username) is not None
            if exists:
                result.append(DemoUser(username, role, None, generated=False))
                continue
            generated = secret is None
            password = secrets.token_urlsafe(9) if secret is None else secret.get_secret_value()
            try:
                await self.create_user(username, password, role, actor=system, check_password=False)
            except ConflictError:  # another process created it meanwhile
                result.append(DemoUser(username, role, None, generated=False))
                continue
            result.append(DemoUser(username, role, password, generated=generated))
        return result

    # -- login and bearer tokens ------------------------------------------------------------

    async def authenticate(self, username: str, password: str, ip: str | None) -> User:
        """The user with these credentials, or InvalidCredentials / RateLimited.

        Both the name and the client address are limited: the first stops guessing one
        account's password from many machines, the second one machine trying many names.
        """
        name = username.strip().lower()[:64]
        keys = [f"user:{name}"] + ([f"ip:{ip}"] if ip else [])
        waits = [w for k in keys if (w := await self.limiter.retry_after(k)) is not None]
        if waits:
            # Not audited: a flood would otherwise flood the audit table too.
            log.warning("login rate limited for %r from %s", name, ip)
            raise RateLimited(max(waits))
        async with self.db.session() as s:
            user = await _user_by_name(s, name)
        if user is None:
            await self.passwords.burn(password)
            ok = False
        else:
            ok = await self.passwords.verify(user.password_hash, password)
        if not ok or user is None or not user.is_active:
            for key in keys:
                await self.limiter.hit(key)
            reason = "unknown_user" if user is None else "inactive" if ok else "bad_password"
            await self._audit_row(
                actor_id=None,
                actor_name=name,
                actor_kind="user",
                action="auth.login_failed",
                ip=ip,
                status=401,
                details={"reason": reason},
            )
            raise InvalidCredentials("invalid username or password")
        await self.limiter.reset(f"user:{name}")
        new_hash = (
            await self.passwords.hash(password)
            if self.passwords.needs_rehash(user.password_hash)
            else None
        )
        async with self.db.session() as s:
            fresh = await s.get(User, user.id)
            assert fresh is not None
            fresh.last_login_at = self.clock.now()
            if new_hash is not None:
                fresh.password_hash = new_hash
            s.add(fresh)
            await s.commit()
            await s.refresh(fresh)
        await self.audit(_principal(fresh), "auth.login", target=_target(fresh), ip=ip, status=200)
        return fresh

    def issue_access_token(self, user: User) -> str:
        assert user.id is not None
        return encode_access_token(
            user_id=user.id,
            role=user.role,
            secret=self.settings.secret_key.get_secret_value(),
            now=self.clock.now(),
            ttl=self.access_token_ttl,
        )

    async def resolve_bearer(self, token: str) -> Principal:
        """Who a bearer credential (JWT or `cc_` API token) belongs to, with their current
        permissions: role changes and deactivation take effect on the next request."""
        if is_api_token(token):
            return await self._resolve_api_token(token)
        try:
            claims = decode_access_token(
                token, secret=self.settings.secret_key.get_secret_value(), now=self.clock.now()
            )
        except TokenError as exc:
            raise InvalidToken(str(exc)) from None
        async with self.db.session() as s:
            user = await s.get(User, claims.user_id)
        if user is None or not user.is_active:
            raise InvalidToken("user unknown or inactive")
        return _principal(user)

    async def _resolve_api_token(self, token: str) -> Principal:
        now = self.clock.now()
        async with self.db.session() as s:
            row = (
                await s.exec(select(ApiToken).where(ApiToken.token_hash == hash_api_token(token)))
            ).first()
            if row is None or row.revoked_at is not None:
                raise InvalidToken("unknown or revoked API token")
            expires_at = aware(row.expires_at)
            if expires_at is not None and expires_at <= now:
                raise InvalidToken("API token expired")
            user = await s.get(User, row.user_id)
            if user is None or not user.is_active:
                raise InvalidToken("user unknown or inactive")
            last = aware(row.last_used_at)
            # Writing on every request would turn each API read into a write; a minute of
            # precision is enough to tell a token in use from a forgotten one.
            if last is None or now - last >= TOKEN_TOUCH_INTERVAL:
                row.last_used_at = now
                s.add(row)
                await s.commit()
        return _principal(user, kind="api_token", token_id=row.id)

    async def create_api_token(
        self,
        user: User,
        name: str,
        expires_days: int | None = None,
        actor: Principal | None = None,
    ) -> tuple[ApiToken, str]:
        """A new token for `user`; the plaintext is returned here and never again."""
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise ValidationError("name", "must be 1-100 characters")
        if expires_days is not None and not 1 <= expires_days <= MAX_TOKEN_DAYS:
            raise ValidationError("expires_days", f"must be between 1 and {MAX_TOKEN_DAYS}")
        assert user.id is not None
        now = self.clock.now()
        plaintext = generate_api_token()
        row = ApiToken(
            name=name,
            user_id=user.id,
            token_hash=hash_api_token(plaintext),
            created_at=now,
            expires_at=now + timedelta(days=expires_days) if expires_days else None,
        )
        async with self.db.session() as s:
            s.add(row)
            await s.commit()
            await s.refresh(row)
        await self.audit(
            actor,
            "api_token.create",
            target=_target(user),
            details={"token_id": row.id, "name": name, "expires_days": expires_days},
        )
        return row, plaintext

    async def list_api_tokens(
        self, user_id: int, *, include_revoked: bool = False
    ) -> list[ApiToken]:
        stmt = select(ApiToken).where(ApiToken.user_id == user_id).order_by(col(ApiToken.id))
        if not include_revoked:
            stmt = stmt.where(col(ApiToken.revoked_at).is_(None))
        async with self.db.session() as s:
            return list((await s.exec(stmt)).all())

    async def revoke_api_token(
        self, user_id: int, token_id: int, actor: Principal | None = None
    ) -> ApiToken:
        """Revoke one of `user_id`'s tokens; revoking twice is harmless."""
        async with self.db.session() as s:
            row = await s.get(ApiToken, token_id)
            if row is None or row.user_id != user_id:
                raise NotFoundError(f"no API token {token_id}")
            if row.revoked_at is not None:
                return row
            row.revoked_at = self.clock.now()
            s.add(row)
            await s.commit()
            await s.refresh(row)
        await self.audit(
            actor, "api_token.revoke", target=f"user:{user_id}", details={"token_id": token_id}
        )
        return row

    # -- audit ---------------------------------------------------------------------------

    async def audit(
        self,
        principal: Principal | None,
        action: str,
        target: str | None = None,
        *,
        ip: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one audit row; `None` principal means an anonymous caller."""
        await self._audit_row(
            actor_id=principal.user_id if principal else None,
            actor_name=principal.username if principal else "anonymous",
            actor_kind=principal.kind if principal else "user",
            action=action,
            target=target,
            ip=ip,
            status=status,
            details=details or {},
        )

    async def _audit_row(self, **fields: Any) -> None:
        # Through the one writer thread, as every frequent write: from a second
        # connection, each request's audit row raced the domain's writes for SQLite's
        # lock, and the loser slept in the busy handler (seconds under load).
        row = {**fields, "at": self.clock.now(), "action": fields["action"][:200]}
        table = AuditEntry.__table__  # type: ignore[attr-defined]
        await self.db.write(lambda conn: conn.execute(sa_insert(table).values(row)))

    async def list_audit(
        self,
        limit: int = 50,
        offset: int = 0,
        actor: str | None = None,
        action: str | None = None,
        *,
        target: str | None = None,
    ) -> list[AuditEntry]:
        """Newest first. `action` matches a prefix, so `user.` finds every user change."""
        stmt = select(AuditEntry)
        if actor:
            stmt = stmt.where(AuditEntry.actor_name == actor)
        if action:
            stmt = stmt.where(col(AuditEntry.action).startswith(action, autoescape=True))
        if target:
            stmt = stmt.where(AuditEntry.target == target)
        stmt = stmt.order_by(col(AuditEntry.id).desc()).offset(offset).limit(limit)
        async with self.db.session() as s:
            return list((await s.exec(stmt)).all())

    # -- rules ---------------------------------------------------------------------------

    def _check_can_grant(self, actor: Principal | None, perms: frozenset[Permission]) -> None:
        if actor is None:
            return
        if missing := sorted((perms & GUARDED_PERMISSIONS) - actor.permissions):
            raise PermissionDenied(
                "cannot manage a user with permissions you lack: " + ", ".join(missing)
            )

    async def _keep_one_admin(self, s: AsyncSession, user: User, field: str) -> None:
        stmt = (
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN, col(User.is_active).is_(True), User.id != user.id)
        )
        if (await s.exec(stmt)).one() == 0:
            raise ConflictError(field, "the last active admin cannot be demoted or deactivated")


def principal_for(user: User) -> Principal:
    """The principal of a freshly authenticated user (e.g. right after login)."""
    return _principal(user)


async def _user_by_name(s: AsyncSession, username: str) -> User | None:
    return (await s.exec(select(User).where(User.username == username))).first()


def _target(user: User) -> str:
    return f"user:{user.id}"


def _check_role(role: str) -> None:
    if role not in Role._value2member_map_:
        raise ValidationError("role", "must be one of: " + ", ".join(Role))


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValidationError("language", "must be one of: " + ", ".join(LANGUAGES))


def _check_display_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 128:
        raise ValidationError("display_name", "must be 1-128 characters")
    return name


def _check_permissions(field: str, names: Sequence[str]) -> list[str]:
    unknown = [n for n in names if n not in Permission._value2member_map_]
    if unknown:
        raise ValidationError(field, "unknown permission: " + ", ".join(unknown))
    return sorted(set(names))
