"""FastAPI dependencies: the services, a DB session, and who is calling.

Routes declare what they need (`require(Permission.USERS_MANAGE)`) instead of checking
roles inline, so a permission check is visible in the route signature.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket, status
from sqlmodel.ext.asyncio.session import AsyncSession

from callcenter.auth.permissions import Permission, Principal
from callcenter.auth.service import (
    AuthError,
    ConflictError,
    InvalidCredentials,
    InvalidToken,
    NotFoundError,
    PermissionDenied,
    RateLimited,
    ValidationError,
)
from callcenter.services import Services

BEARER_PROTOCOL_PREFIX = "bearer."


async def get_services(request: Request) -> Services:  # async: no threadpool hop
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    async with services.db.session() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def _unauthorized(detail: str = "not authenticated") -> HTTPException:
    # RFC 6750 §3: a 401 for a bearer-protected resource carries WWW-Authenticate.
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def _bearer_from_header(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def get_principal(request: Request, services: ServicesDep) -> Principal:
    token = _bearer_from_header(request.headers.get("authorization"))
    if token is None:
        raise _unauthorized()
    try:
        principal = await services.auth.resolve_bearer(token)
    except InvalidToken:
        raise _unauthorized("invalid or expired token") from None
    request.state.principal = principal  # read by AuditMiddleware after the response
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(*perms: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that returns the caller if they hold every permission, else 403."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if missing := principal.missing(*perms):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail="missing permission: " + ", ".join(missing),
            )
        return principal

    return dependency


def invalid(message: str, *loc: str | int, where: str = "body", code: int = 422) -> HTTPException:
    """A refused value in the shape of FastAPI's own validation errors, so a client
    reads one format and a page shows the message at the field `loc` names."""
    return HTTPException(code, [{"loc": [where, *loc], "msg": message, "type": "value_error"}])


def http_error(exc: AuthError) -> HTTPException:
    """The HTTP answer to a domain error; field errors keep pydantic's 422 shape so
    clients parse one format whether the form or the service refused the value."""
    if isinstance(exc, ValidationError):
        code = (
            status.HTTP_409_CONFLICT
            if isinstance(exc, ConflictError)
            else status.HTTP_422_UNPROCESSABLE_CONTENT
        )
        kind = "conflict" if code == status.HTTP_409_CONFLICT else "value_error"
        return HTTPException(
            code, detail=[{"loc": ["body", exc.field], "msg": exc.message, "type": kind}]
        )
    if isinstance(exc, RateLimited):
        return HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=str(exc),
            headers={"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, InvalidCredentials | InvalidToken):
        return _unauthorized(str(exc))
    if isinstance(exc, PermissionDenied):
        return HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc))
    if isinstance(exc, NotFoundError):
        return HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc))
    return HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc))


def websocket_token(websocket: WebSocket) -> str | None:
    """The bearer token a websocket client sent, wherever browsers let it put one.

    Browsers cannot set headers on a websocket, so a page passes the token in the query
    string or as a `bearer.<token>` subprotocol; other clients use Authorization.
    """
    if token := websocket.query_params.get("token"):
        return token
    if token := _bearer_from_header(websocket.headers.get("authorization")):
        return token
    for proto in websocket.scope.get("subprotocols", []):
        if proto.startswith(BEARER_PROTOCOL_PREFIX):
            return proto.removeprefix(BEARER_PROTOCOL_PREFIX) or None
    return None


def websocket_subprotocol(websocket: WebSocket) -> str | None:
    """The subprotocol to accept with: the first one offered that is not the token.

    A browser that offered subprotocols fails the handshake unless one is selected;
    selecting the `bearer.` one would echo the token in a response header, so clients
    should offer a plain name too (e.g. `["callcenter", "bearer.<token>"]`).
    """
    offered: list[str] = list(websocket.scope.get("subprotocols", []))
    plain = [p for p in offered if not p.startswith(BEARER_PROTOCOL_PREFIX)]
    if plain:
        return plain[0]
    return offered[0] if offered else None


async def websocket_principal(websocket: WebSocket) -> Principal | None:
    """Who opened this websocket, or None; the caller closes with 4401/1008 on None."""
    token = websocket_token(websocket)
    if token is None:
        return None
    services: Services = websocket.app.state.services
    try:
        principal = await services.auth.resolve_bearer(token)
    except InvalidToken:
        return None
    websocket.state.principal = principal
    return principal
