"""AuthService against a real SQLite file: users, logins, tokens, guards, audit."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlmodel import SQLModel

from callcenter.auth.models import ApiToken, AuditEntry, User
from callcenter.auth.passwords import FAST_INSECURE_PARAMS, PasswordParams
from callcenter.auth.permissions import Permission, Principal, effective_permissions
from callcenter.auth.service import (
    AuthService,
    ConflictError,
    InvalidCredentials,
    InvalidToken,
    PermissionDenied,
    RateLimited,
    ValidationError,
)
from callcenter.clock import FixedClock
from callcenter.config import Settings
from callcenter.db import Database

PW = "correct horse"
TABLES = [User.__table__, ApiToken.__table__, AuditEntry.__table__]


@pytest.fixture
def clock():
    return FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


def _settings(tmp_path, **kw):
    return Settings(_env_file=None, env="test", data_dir=tmp_path, **kw)


@pytest.fixture
async def db(tmp_path):
    db = Database(_settings(tmp_path).database)
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda c: SQLModel.metadata.create_all(c, tables=TABLES))
    yield db
    await db.close()


@pytest.fixture
def make_auth(db, clock, tmp_path):
    def make(params=FAST_INSECURE_PARAMS, **settings):
        settings.setdefault("login_attempts_per_minute", 3)
        return AuthService(db, _settings(tmp_path, **settings), clock, password_params=params)

    return make


@pytest.fixture
def auth(make_auth):
    return make_auth()


async def test_create_user_validates_each_field(auth):
    cases = [
        (("ab", PW, "agent"), {}, "username"),
        (("Alice", PW, "agent"), {}, "username"),
        (("alice", PW, "owner"), {}, "role"),
        (("alice", "short", "agent"), {}, "password"),
        (("alice", PW, "agent"), {"language": "fr"}, "language"),
    ]
    for args, kw, field in cases:
        with pytest.raises(ValidationError) as err:
            await auth.create_user(*args, **kw)
        assert err.value.field == field
    user = await auth.create_user(" alice.b-1_ ", PW, "agent")
    assert user.username == "alice.b-1_" and user.display_name == "alice.b-1_"
    assert user.created_at == auth.clock.now()
    assert user.extra_permissions == [] and user.is_active
    with pytest.raises(ConflictError) as err:
        await auth.create_user("alice.b-1_", PW, "admin")
    assert err.value.field == "username"


async def test_authenticate(auth, clock):
    await auth.create_user("bob", PW, "agent")
    user = await auth.authenticate("BOB", PW, "10.0.0.1")
    assert user.last_login_at is not None
    with pytest.raises(InvalidCredentials):
        await auth.authenticate("bob", "wrong", "10.0.0.1")
    with pytest.raises(InvalidCredentials):
        await auth.authenticate("nobody", PW, "10.0.0.1")


async def test_rate_limit_per_username_and_per_ip(auth, clock):
    await auth.create_user("carol", PW, "agent")
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        with pytest.raises(InvalidCredentials):
            await auth.authenticate("carol", "bad", ip)
    with pytest.raises(RateLimited) as err:  # right password, fresh ip: the name is locked
        await auth.authenticate("carol", PW, "10.0.0.4")
    assert err.value.retry_after == 60

    for name in ("x1", "x2", "x3"):  # one address spraying names
        with pytest.raises(InvalidCredentials):
            await auth.authenticate(name, "bad", "10.9.9.9")
    await auth.create_user("dave", PW, "agent")
    with pytest.raises(RateLimited):
        await auth.authenticate("dave", PW, "10.9.9.9")
    await auth.authenticate("dave", PW, "10.0.0.5")

    clock.advance(timedelta(seconds=60))
    await auth.authenticate("carol", PW, "10.0.0.1")


async def test_success_resets_the_username_counter(auth):
    await auth.create_user("erin", PW, "agent")
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await auth.authenticate("erin", "bad", None)
    await auth.authenticate("erin", PW, None)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await auth.authenticate("erin", "bad", None)
    await auth.authenticate("erin", PW, None)


async def test_login_rehashes_when_parameters_change(make_auth):
    old = make_auth()
    await old.create_user("frank", PW, "agent")
    new = make_auth(PasswordParams(time_cost=2, memory_cost_kib=16, parallelism=1))
    before = (await new.get_user_by_username("frank")).password_hash
    after = (await new.authenticate("frank", PW, None)).password_hash
    assert before != after and "t=2" in after
    await new.authenticate("frank", PW, None)


async def test_inactive_user_cannot_log_in(auth):
    user = await auth.create_user("gina", PW, "agent")
    await auth.deactivate(user.id)
    with pytest.raises(InvalidCredentials):
        await auth.authenticate("gina", PW, None)


async def test_jwt_bearer_follows_current_role_and_clock(auth, clock):
    user = await auth.create_user("hank", PW, "agent")
    token = auth.issue_access_token(user)
    p = await auth.resolve_bearer(token)
    assert (p.user_id, p.kind, p.role) == (user.id, "user", "agent")
    await auth.update_user(user.id, role="supervisor")
    assert Permission.CALLS_READ_ALL in (await auth.resolve_bearer(token)).permissions
    clock.advance(timedelta(minutes=auth.settings.access_token_minutes))
    with pytest.raises(InvalidToken):
        await auth.resolve_bearer(token)


async def test_api_token_expiry_revocation_and_last_used(auth, clock):
    user = await auth.create_user("ivy", PW, "agent")
    row, plaintext = await auth.create_api_token(user, "script", expires_days=1)
    assert plaintext.startswith("cc_") and row.token_hash != plaintext

    p = await auth.resolve_bearer(plaintext)
    assert (p.kind, p.token_id, p.username) == ("api_token", row.id, "ivy")
    [listed] = await auth.list_api_tokens(user.id)
    first_use = listed.last_used_at
    assert first_use is not None

    clock.advance(timedelta(seconds=30))  # within a minute: no write
    await auth.resolve_bearer(plaintext)
    [listed] = await auth.list_api_tokens(user.id)
    assert listed.last_used_at == first_use
    clock.advance(timedelta(seconds=31))
    await auth.resolve_bearer(plaintext)
    [listed] = await auth.list_api_tokens(user.id)
    assert listed.last_used_at != first_use

    clock.advance(timedelta(days=1))
    with pytest.raises(InvalidToken, match="expired"):
        await auth.resolve_bearer(plaintext)

    _, other = await auth.create_api_token(user, "other")
    await auth.resolve_bearer(other)
    [_, second] = await auth.list_api_tokens(user.id)
    await auth.revoke_api_token(user.id, second.id)
    await auth.revoke_api_token(user.id, second.id)  # idempotent
    with pytest.raises(InvalidToken):
        await auth.resolve_bearer(other)
    with pytest.raises(InvalidToken):
        await auth.resolve_bearer("cc_never_issued")
    with pytest.raises(ValidationError):
        await auth.create_api_token(user, " ")


async def test_users_manage_cannot_escalate(auth):
    admin = await auth.create_user("root1", PW, "admin")
    admin_p = Principal(admin.id, "root1", "admin", effective_permissions("admin"))
    hr = await auth.create_user("hrmgr", PW, "supervisor", actor=admin_p)
    await auth.update_user(hr.id, extra_permissions=["users.manage"], actor=admin_p)
    hr_p = (await auth.resolve_bearer(auth.issue_access_token(hr))).permissions
    actor = Principal(hr.id, "hrmgr", "supervisor", hr_p)

    agent = await auth.create_user("newagent", PW, "agent", actor=actor)  # allowed
    with pytest.raises(PermissionDenied):
        await auth.create_user("evil", PW, "admin", actor=actor)
    with pytest.raises(PermissionDenied):
        await auth.update_user(hr.id, role="admin", actor=actor)
    with pytest.raises(PermissionDenied):
        await auth.set_password(admin.id, "taken over!", actor=actor)
    with pytest.raises(PermissionDenied):
        await auth.update_user(agent.id, extra_permissions=["pbx.manage"], actor=actor)
    await auth.update_user(agent.id, extra_permissions=["reports.read"], actor=actor)


async def test_last_admin_is_kept(auth):
    a = await auth.create_user("a-one", PW, "admin")
    with pytest.raises(ConflictError):
        await auth.deactivate(a.id)
    b = await auth.create_user("a-two", PW, "admin")
    await auth.update_user(a.id, role="agent")
    with pytest.raises(ConflictError):
        await auth.update_user(b.id, role="supervisor")


async def test_ensure_demo_users(make_auth):
    auth = make_auth(admin_password=SecretStr("admin"))
    first = {d.username: d for d in await auth.ensure_demo_users()}
    assert set(first) == {"admin", "supervisor", "agent1", "agent2"}
    assert first["admin"].password == "admin" and not first["admin"].generated
    assert first["agent1"].generated and first["agent1"].password
    assert first["agent1"].password != first["agent2"].password
    await auth.authenticate("admin", "admin", None)
    await auth.authenticate("agent2", first["agent2"].password, None)
    again = await auth.ensure_demo_users()
    assert all(d.password is None and not d.generated for d in again)
    roles = {u.username: u.role for u in await auth.list_users()}
    assert roles == {
        "admin": "admin",
        "supervisor": "supervisor",
        "agent1": "agent",
        "agent2": "agent",
    }


async def test_audit_listing_filters_and_pages(auth, clock):
    cli = Principal.operator("cli:root")
    for i in range(5):
        await auth.create_user(f"user{i}", PW, "agent", actor=cli)
    with pytest.raises(InvalidCredentials):
        await auth.authenticate("user0", "wrong password", "192.0.2.1")
    rows = await auth.list_audit(limit=3)
    assert [r.action for r in rows] == ["auth.login_failed", "user.create", "user.create"]
    failed = rows[0]
    assert (failed.actor_name, failed.actor_id, failed.ip, failed.status) == (
        "user0",
        None,
        "192.0.2.1",
        401,
    )
    assert "wrong password" not in str(failed.details)
    created = await auth.list_audit(limit=10, action="user.", actor="cli:root")
    assert len(created) == 5 and {r.actor_kind for r in created} == {"cli"}
    assert [r.target for r in await auth.list_audit(2, 3, action="user.create")] == [
        "user:2",
        "user:1",
    ]
    assert await auth.list_audit(action="user%") == []  # LIKE wildcards are literal
