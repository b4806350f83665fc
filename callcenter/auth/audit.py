"""`AuditMiddleware`: one audit row per mutating API request.

A pure ASGI middleware, not `BaseHTTPMiddleware`: that one buffers through an extra task
and breaks streaming responses and websockets. The row is written after the last body
chunk has gone out, like Starlette's background tasks, so the client never waits on it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Logins are audited by AuthService itself, with the attempted username and outcome.
DEFAULT_SKIP_PATHS = frozenset({"/api/auth/login"})


class AuditMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str = "/api",
        skip_paths: Collection[str] = DEFAULT_SKIP_PATHS,
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.skip_paths = frozenset(skip_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._wanted(scope):
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})  # shared with request.state further down
        status: int | None = None

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        except Exception:
            await self._record(scope, status or 500)
            raise
        await self._record(scope, status)

    def _wanted(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope.get("method") not in MUTATING_METHODS:
            return False
        path: str = scope.get("path", "")
        return (path == self.prefix or path.startswith(self.prefix + "/")) and (
            path.rstrip("/") not in self.skip_paths
        )

    async def _record(self, scope: Scope, status: int | None) -> None:
        try:
            services = scope["app"].state.services
            state: dict[str, Any] = scope.get("state") or {}
            params: dict[str, Any] = scope.get("path_params") or {}
            client = scope.get("client")
            await services.auth.audit(
                state.get("principal"),
                f"{scope['method']} {scope['path']}",
                target=_target(params),
                ip=client[0] if client else None,
                status=status,
            )
        except Exception:
            # Never fail (or re-fail) a request because its audit row could not be written.
            log.exception(
                "could not write audit entry for %s %s", scope.get("method"), scope.get("path")
            )


def _target(params: dict[str, Any]) -> str | None:
    if not params:
        return None
    if len(params) == 1:
        return str(next(iter(params.values())))
    return ",".join(f"{k}={v}" for k, v in sorted(params.items()))
