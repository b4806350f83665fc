"""Role defaults and per-user adjustments."""

from callcenter.auth.permissions import (
    ALL_PERMISSIONS,
    ROLE_PERMISSIONS,
    Permission,
    Principal,
    Role,
    effective_permissions,
)

P = Permission


def test_role_defaults():
    agent = effective_permissions("agent")
    assert agent == {P.CALLS_READ_OWN, P.EVENTS_SUBSCRIBE, P.TICKETS_READ, P.TICKETS_MANAGE,
                     P.KB_READ}  # fmt: skip
    sup = effective_permissions("supervisor")
    assert {P.CALLS_READ_ALL, P.MONITOR_LISTEN, P.MONITOR_BARGE, P.REPORTS_READ} <= sup
    assert P.USERS_READ in sup and P.USERS_MANAGE not in sup and P.AUDIT_READ not in sup
    assert P.KB_READ in sup and P.KB_MANAGE not in sup
    assert effective_permissions("admin") == ALL_PERMISSIONS == frozenset(Permission)
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_extra_and_revoked():
    perms = effective_permissions("agent", extra=["reports.read"], revoked=["tickets.manage"])
    assert P.REPORTS_READ in perms
    assert P.TICKETS_MANAGE not in perms
    # Revocation wins over a grant of the same permission.
    assert P.AUDIT_READ not in effective_permissions("agent", ["audit.read"], ["audit.read"])


def test_unknown_names_and_roles_grant_nothing():
    assert effective_permissions("agent", extra=["time.travel"]) == effective_permissions("agent")
    assert effective_permissions("janitor", extra=["tickets.read"]) == {P.TICKETS_READ}


def test_principal_checks():
    p = Principal(1, "a", "agent", effective_permissions("agent"))
    assert p.has(P.TICKETS_READ)
    assert not p.has(P.TICKETS_READ, P.USERS_READ)
    assert p.missing(P.TICKETS_READ, P.USERS_READ, P.AUDIT_READ) == [P.USERS_READ, P.AUDIT_READ]
    cli = Principal.operator("cli:root")
    assert cli.kind == "cli" and cli.user_id is None and cli.permissions == ALL_PERMISSIONS
