"""User administration: list, create, read and change users."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from callcenter.api.deps import ServicesDep, http_error, require
from callcenter.auth.models import User, aware
from callcenter.auth.permissions import Permission, Principal, Role
from callcenter.auth.service import AuthError, permissions_of

router = APIRouter(prefix="/api/users", tags=["users"])

Language = Literal["en", "zh"]
Reader = Annotated[Principal, Depends(require(Permission.USERS_READ))]
Manager = Annotated[Principal, Depends(require(Permission.USERS_MANAGE))]


class UserPublic(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    language: str
    is_active: bool
    permissions: list[str]
    extra_permissions: list[str]
    revoked_permissions: list[str]
    created_at: datetime
    last_login_at: datetime | None


class UserCreate(BaseModel):
    # Shape only here; the service owns the rules (pattern, policy) and names the field.
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    role: Role = Role.AGENT
    display_name: str | None = Field(default=None, max_length=128)
    language: Language = "en"


class UserUpdate(BaseModel):
    role: Role | None = None
    display_name: str | None = Field(default=None, max_length=128)
    language: Language | None = None
    is_active: bool | None = None
    extra_permissions: list[Permission] | None = None
    revoked_permissions: list[Permission] | None = None
    password: str | None = Field(default=None, max_length=1024)


def user_public(user: User) -> UserPublic:
    assert user.id is not None
    return UserPublic(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        language=user.language,
        is_active=user.is_active,
        permissions=sorted(permissions_of(user)),
        extra_permissions=list(user.extra_permissions),
        revoked_permissions=list(user.revoked_permissions),
        created_at=aware(user.created_at) or user.created_at,
        last_login_at=aware(user.last_login_at),
    )


@router.get("")
async def list_users(_: Reader, services: ServicesDep) -> list[UserPublic]:
    return [user_public(u) for u in await services.auth.list_users()]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, actor: Manager, services: ServicesDep) -> UserPublic:
    try:
        user = await services.auth.create_user(
            body.username,
            body.password,
            body.role,
            body.display_name,
            language=body.language,
            actor=actor,
        )
    except AuthError as exc:
        raise http_error(exc) from None
    return user_public(user)


@router.get("/{user_id}")
async def get_user(user_id: int, _: Reader, services: ServicesDep) -> UserPublic:
    try:
        return user_public(await services.auth.get_user(user_id))
    except AuthError as exc:
        raise http_error(exc) from None


@router.patch("/{user_id}")
async def update_user(
    user_id: int, body: UserUpdate, actor: Manager, services: ServicesDep
) -> UserPublic:
    try:
        user = await services.auth.update_user(
            user_id, **body.model_dump(exclude_unset=True, exclude_none=True), actor=actor
        )
    except AuthError as exc:
        raise http_error(exc) from None
    return user_public(user)
