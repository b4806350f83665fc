"""Login, the caller's own profile, and the caller's own API tokens."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field

from callcenter.api.deps import CurrentPrincipal, ServicesDep, http_error
from callcenter.api.routes.users import UserPublic, user_public
from callcenter.auth.models import ApiToken, aware
from callcenter.auth.service import AuthError, principal_for

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=4096)


class LoginOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    user: UserPublic


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    expires_days: int | None = Field(default=None, ge=1, le=3650)


class TokenPublic(BaseModel):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class TokenCreated(TokenPublic):
    token: str  # shown once, never stored in plaintext


def token_public(row: ApiToken) -> TokenPublic:
    assert row.id is not None
    return TokenPublic(
        id=row.id,
        name=row.name,
        created_at=aware(row.created_at) or row.created_at,
        last_used_at=aware(row.last_used_at),
        expires_at=aware(row.expires_at),
    )


@router.post("/login")
async def login(body: LoginIn, request: Request, services: ServicesDep) -> LoginOut:
    ip = request.client.host if request.client else None
    try:
        user = await services.auth.authenticate(body.username, body.password, ip)
    except AuthError as exc:
        raise http_error(exc) from None
    request.state.principal = principal_for(user)
    return LoginOut(
        access_token=services.auth.issue_access_token(user),
        expires_in=int(services.auth.access_token_ttl.total_seconds()),
        user=user_public(user),
    )


@router.get("/me")
async def me(principal: CurrentPrincipal, services: ServicesDep) -> UserPublic:
    assert principal.user_id is not None
    return user_public(await services.auth.get_user(principal.user_id))


@router.get("/tokens")
async def list_tokens(principal: CurrentPrincipal, services: ServicesDep) -> list[TokenPublic]:
    assert principal.user_id is not None
    return [token_public(t) for t in await services.auth.list_api_tokens(principal.user_id)]


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
async def create_token(
    body: TokenIn, principal: CurrentPrincipal, services: ServicesDep
) -> TokenCreated:
    # A leaked API token must not be able to mint fresh ones and outlive its revocation.
    if principal.kind != "user":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "API tokens cannot create API tokens")
    assert principal.user_id is not None
    try:
        user = await services.auth.get_user(principal.user_id)
        row, plaintext = await services.auth.create_api_token(
            user, body.name, body.expires_days, actor=principal
        )
    except AuthError as exc:
        raise http_error(exc) from None
    return TokenCreated(**token_public(row).model_dump(), token=plaintext)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(token_id: int, principal: CurrentPrincipal, services: ServicesDep) -> None:
    assert principal.user_id is not None
    try:
        await services.auth.revoke_api_token(principal.user_id, token_id, actor=principal)
    except AuthError as exc:
        raise http_error(exc) from None
