"""Per-feature permissions, the defaults each role brings, and who is asking (`Principal`).

Checks are always on permissions, never on role names, so an installation can give one
agent `reports.read` or take `tickets.manage` from another without a new role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Permission(StrEnum):
    CALLS_READ_OWN = "calls.read_own"
    CALLS_READ_ALL = "calls.read_all"
    CALLS_CONTROL = "calls.control"
    EVENTS_SUBSCRIBE = "events.subscribe"
    USERS_READ = "users.read"
    USERS_MANAGE = "users.manage"
    AUDIT_READ = "audit.read"
    PBX_MANAGE = "pbx.manage"
    SETTINGS_MANAGE = "settings.manage"
    MONITOR_LISTEN = "monitor.listen"
    MONITOR_BARGE = "monitor.barge"
    REPORTS_READ = "reports.read"
    AGENTS_SUPERVISE = "agents.supervise"  # set another agent's state, log them out
    ANNOUNCE = "announce"  # announcements to agents' desktops
    QUALITY_REVIEW = "quality.review"  # score any agent's calls, manage scorecards (质检)
    CUSTOMERS_READ_ALL = "customers.read_all"  # every profile; else those one served
    CUSTOMERS_MANAGE = "customers.manage"  # edit any field, identities, merge, import
    TICKETS_READ = "tickets.read"
    TICKETS_MANAGE = "tickets.manage"
    TICKETS_READ_ALL = "tickets.read_all"  # every ticket; else those of one's groups
    TICKETS_ADMIN = "tickets.admin"  # ticket groups and who is in them
    WEBHOOKS_ADMIN = "webhooks.admin"  # webhook subscriptions, deliveries, dead letters
    SENSITIVE_WORDS_ADMIN = "sensitive_words.admin"  # the sensitive-word lists (敏感词)
    KB_READ = "kb.read"  # search and read the knowledge base
    KB_MANAGE = "kb.manage"  # knowledge-base entries, categories, import
    CANNED_RESPONSES_MANAGE = "canned_responses.manage"  # the team's canned responses


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"


ALL_PERMISSIONS: frozenset[Permission] = frozenset(Permission)

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.AGENT: frozenset(
        {
            Permission.CALLS_READ_OWN,
            Permission.EVENTS_SUBSCRIBE,
            Permission.TICKETS_READ,
            Permission.TICKETS_MANAGE,
            Permission.KB_READ,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            Permission.CALLS_READ_OWN,
            Permission.CALLS_READ_ALL,
            Permission.EVENTS_SUBSCRIBE,
            Permission.MONITOR_LISTEN,
            Permission.MONITOR_BARGE,
            Permission.AGENTS_SUPERVISE,
            Permission.ANNOUNCE,
            Permission.QUALITY_REVIEW,
            Permission.REPORTS_READ,
            Permission.USERS_READ,
            Permission.CUSTOMERS_READ_ALL,
            Permission.CUSTOMERS_MANAGE,
            Permission.TICKETS_READ,
            Permission.TICKETS_MANAGE,
            Permission.TICKETS_READ_ALL,
            Permission.TICKETS_ADMIN,
            Permission.KB_READ,
        }
    ),
    # Admin gets every permission, including ones added later, without editing this map.
    Role.ADMIN: ALL_PERMISSIONS,
}


# Permissions that control other accounts or the whole system. Only a holder may grant
# one, or manage a user who has one: otherwise `users.manage` alone would be a path to
# admin (promote yourself, or reset an admin's password and log in as them).
GUARDED_PERMISSIONS: frozenset[Permission] = frozenset(
    {
        Permission.USERS_MANAGE,
        Permission.AUDIT_READ,
        Permission.PBX_MANAGE,
        Permission.SETTINGS_MANAGE,
        Permission.WEBHOOKS_ADMIN,  # a webhook sends events (ids) to any URL it names
    }
)


def _known(names: Iterable[str]) -> set[Permission]:
    # Stored lists may hold names a newer or older version defined; ignore, never crash.
    return {Permission(n) for n in names if n in Permission._value2member_map_}


def effective_permissions(
    role: str, extra: Iterable[str] = (), revoked: Iterable[str] = ()
) -> frozenset[Permission]:
    """Role defaults + extra − revoked; an unknown role grants nothing."""
    known_role = Role._value2member_map_.get(role)
    base = (
        ROLE_PERMISSIONS.get(known_role, frozenset())
        if isinstance(known_role, Role)
        else frozenset()
    )
    return frozenset((set(base) | _known(extra)) - _known(revoked))


PrincipalKind = Literal["user", "api_token", "system", "cli"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is making a request and what they may do, resolved once per request."""

    user_id: int | None
    username: str
    role: str
    permissions: frozenset[Permission]
    kind: PrincipalKind = "user"
    token_id: int | None = None

    def has(self, *perms: Permission) -> bool:
        return all(p in self.permissions for p in perms)

    def missing(self, *perms: Permission) -> list[Permission]:
        return [p for p in perms if p not in self.permissions]

    @classmethod
    def operator(cls, name: str, kind: PrincipalKind = "cli") -> Principal:
        """Someone with shell access to the server (CLI) or the system itself: all rights,
        since they could edit the database directly anyway."""
        return cls(
            user_id=None, username=name, role=Role.ADMIN, permissions=ALL_PERMISSIONS, kind=kind
        )
