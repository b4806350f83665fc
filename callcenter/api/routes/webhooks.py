"""Webhook subscriptions, their deliveries and the dead-letter list: admin API.

Thin: the domain is callcenter.webhooks. Everything here needs `webhooks.admin`
(admins only by default: a webhook sends events to any URL it names). docs/automation.md.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from callcenter.api.deps import ServicesDep, invalid, require
from callcenter.auth.permissions import Permission, Principal
from callcenter.services import Services
from callcenter.webhooks.service import (
    DEAD,
    DeliveryNotFound,
    WebhookBody,
    WebhookFieldError,
    WebhookNotFound,
    WebhookService,
)

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])
T = TypeVar("T")

Admin = Annotated[Principal, Depends(require(Permission.WEBHOOKS_ADMIN))]


async def get_webhooks(services: ServicesDep) -> WebhookService:
    assert services.webhooks is not None  # built by running_services
    return services.webhooks


Webhooks = Annotated[WebhookService, Depends(get_webhooks)]


@router.get("")
async def list_webhooks(hooks: Webhooks, _: Admin) -> list[dict[str, Any]]:
    return await hooks.listing()


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_webhook(body: WebhookBody, hooks: Webhooks, _: Admin) -> dict[str, Any]:
    """Without a `secret` one is made and answered this once; it is never shown again."""
    return await _done(hooks.save(body))


@router.get("/dead-letters")
async def dead_letters(
    hooks: Webhooks,
    _: Admin,
    webhook_id: Annotated[int | None, Query(gt=0)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """Deliveries that gave up, newest first."""
    return await hooks.deliveries(webhook_id=webhook_id, state=DEAD, limit=limit)


@router.post("/dead-letters/replay")
async def replay_all(hooks: Webhooks, services: ServicesDep, _: Admin) -> dict[str, int]:
    """Every dead letter back to the queue, attempts counted afresh."""
    replayed = await hooks.replay()
    _wake(services)
    return {"replayed": replayed}


@router.post("/dead-letters/{delivery_id}/replay")
async def replay_one(
    delivery_id: int, hooks: Webhooks, services: ServicesDep, _: Admin
) -> dict[str, int]:
    replayed = await _done(hooks.replay(delivery_id))
    _wake(services)
    return {"replayed": replayed}


@router.get("/{webhook_id}")
async def get_webhook(webhook_id: int, hooks: Webhooks, _: Admin) -> dict[str, Any]:
    return await _done(hooks.get(webhook_id))


@router.put("/{webhook_id}")
async def replace_webhook(
    webhook_id: int, body: WebhookBody, hooks: Webhooks, _: Admin
) -> dict[str, Any]:
    """Without a `secret` the old one is kept."""
    return await _done(hooks.save(body, webhook_id))


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(webhook_id: int, hooks: Webhooks, _: Admin) -> Response:
    await _done(hooks.delete(webhook_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id}/deliveries")
async def deliveries(
    webhook_id: int,
    hooks: Webhooks,
    _: Admin,
    state: Literal["pending", "delivered", "dead"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    await _done(hooks.get(webhook_id))
    return await hooks.deliveries(webhook_id=webhook_id, state=state, limit=limit)


def _wake(services: Services) -> None:
    if services.webhook_dispatcher is not None:
        services.webhook_dispatcher.wake()


async def _done(work: Awaitable[T]) -> T:
    try:
        return await work
    except WebhookNotFound:
        raise HTTPException(404, "webhook not found") from None
    except DeliveryNotFound:
        raise HTTPException(404, "no such dead letter") from None
    except WebhookFieldError as exc:
        raise invalid(exc.message, exc.field) from None
