"""The lookup node against a real HTTP server on 127.0.0.1, one per test module."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from callcenter.ivr.lookup import LookupFailed, as_text, build_url, extract, run_lookup
from callcenter.ivr.model import LookupNode

CUSTOMER = {
    "customer": {"name": "Ada Lovelace", "tier": "gold", "vip": True, "note": None},
    "orders": [{"id": 1001, "total": 12.5}, {"id": 1002, "total": 3}],
}


async def customer(request: web.Request) -> web.Response:
    return web.json_response({**CUSTOMER, "asked_for": request.match_info["number"]})


async def echo(request: web.Request) -> web.Response:
    """What the server received, so tests can check the encoding and the body."""
    body = await request.text()
    return web.json_response(
        {
            "method": request.method,
            "raw_path": request.raw_path,
            "number": request.match_info.get("number", ""),
            "query": dict(request.query),
            "json": json.loads(body) if body else None,
            "content_type": request.content_type,
        }
    )


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(2)
    return web.json_response(CUSTOMER)


async def broken(request: web.Request) -> web.Response:
    return web.json_response({"error": "database down"}, status=500)


async def not_found(request: web.Request) -> web.Response:
    return web.json_response({"error": "no such customer"}, status=404)


async def html(request: web.Request) -> web.Response:
    return web.Response(text="<html>maintenance</html>", content_type="text/html")


async def empty(request: web.Request) -> web.Response:
    return web.Response(status=200)


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/customer/redirected")


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/customer/{number}", customer)
    app.router.add_route("*", "/echo/{number}", echo)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/slow", slow)
    app.router.add_get("/broken", broken)
    app.router.add_get("/missing", not_found)
    app.router.add_get("/html", html)
    app.router.add_get("/empty", empty)
    app.router.add_get("/moved", redirect)
    runner = web.AppRunner(app, handler_cancellation=True)  # drop /slow on timeout
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def node(url: str, **options: Any) -> LookupNode:
    return LookupNode.model_validate(
        {"type": "lookup", "url": url, "next": "ok", "on_error": "failed", **options}
    )


async def test_get_with_nested_paths(server: str) -> None:
    lookup = node(
        server + "/customer/{caller}",
        store={
            "name": "customer.name",
            "tier": "customer.tier",
            "vip": "customer.vip",
            "note": "customer.note",
            "last_order": "orders.1.id",
            "first_total": "orders.0.total",
            "asked_for": "asked_for",
        },
    )
    values = await run_lookup(lookup, {"caller": "+8613800000000"})
    assert values == {
        "name": "Ada Lovelace",
        "tier": "gold",
        "vip": "true",
        "note": "",
        "last_order": "1002",
        "first_total": "12.5",
        "asked_for": "+8613800000000",
    }


async def test_placeholders_are_url_encoded(server: str) -> None:
    tricky = "12 3/../?a=b&c#d 你"
    lookup = node(
        server + "/echo/{account}?q={account}&missing={nothing}",
        store={"raw_path": "raw_path", "number": "number", "q": "query.q", "m": "query.missing"},
    )
    values = await run_lookup(lookup, {"account": tricky})
    assert values["number"] == tricky  # one path segment, decoded back by the server
    assert values["q"] == tricky
    assert values["m"] == ""
    # "/", "?" and "#" stay escaped: the value cannot add path segments or parameters.
    # (aiohttp may normalise other escapes, e.g. %3D to "=", which mean the same in a path.)
    path = values["raw_path"].partition("?")[0]
    assert path.startswith("/echo/12%203%2F..%2F%3F")
    assert path.endswith("%23d%20%E4%BD%A0")


async def test_post_sends_the_variables_as_json(server: str) -> None:
    lookup = node(
        server + "/echo",
        method="POST",
        store={"method": "method", "sent": "json", "type": "content_type", "lang": "json.lang"},
    )
    variables = {"caller": "100", "lang": "zh"}
    values = await run_lookup(lookup, variables)
    assert values["method"] == "POST"
    assert values["type"] == "application/json"
    assert json.loads(values["sent"]) == variables
    assert values["lang"] == "zh"


async def test_get_sends_no_body(server: str) -> None:
    values = await run_lookup(node(server + "/echo", store={"m": "method", "b": "json"}), {})
    assert values == {"m": "GET", "b": ""}


async def test_timeout(server: str) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(LookupFailed, match=r"no answer within 0\.3 s"):
        await run_lookup(node(server + "/slow", timeout=0.3), {})
    assert loop.time() - started < 2


@pytest.mark.parametrize(("path", "status"), [("/broken", 500), ("/missing", 404)])
async def test_error_status(server: str, path: str, status: int) -> None:
    with pytest.raises(LookupFailed, match=f"HTTP {status}") as caught:
        await run_lookup(node(server + path, store={"e": "error"}), {})
    assert caught.value.reason.startswith(f"GET {server}{path}")


@pytest.mark.parametrize("path", ["/html", "/empty"])
async def test_not_json(server: str, path: str) -> None:
    with pytest.raises(LookupFailed, match="not JSON"):
        await run_lookup(node(server + path), {})


@pytest.mark.parametrize("path", ["customer.phone", "orders.2.id", "orders.x", "customer.name.x"])
async def test_missing_path(server: str, path: str) -> None:
    with pytest.raises(LookupFailed, match=r"no .* in the answer"):
        await run_lookup(node(server + "/customer/1", store={"value": path}), {})


async def test_connection_refused() -> None:
    # A port nobody listens on: bind one, then close it.
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    with pytest.raises(LookupFailed, match="ClientConnectorError"):
        await run_lookup(node(f"http://127.0.0.1:{port}/x"), {})


async def test_redirects_are_followed(server: str) -> None:
    values = await run_lookup(node(server + "/moved", store={"n": "asked_for"}), {})
    assert values == {"n": "redirected"}


async def test_a_given_session_is_used_and_left_open(server: str) -> None:
    async with aiohttp.ClientSession() as session:
        lookup = node(server + "/customer/7", store={"n": "asked_for"})
        assert await run_lookup(lookup, {}, session) == {"n": "7"}
        assert await run_lookup(lookup, {}, session) == {"n": "7"}
        assert not session.closed


def test_build_url_escapes_braces_and_values() -> None:
    url = build_url("https://crm/x/{a}?b={b}&lit={{c}}", {"a": "a/b", "b": "1&2"})
    assert url == "https://crm/x/a%2Fb?b=1%262&lit={c}"


def test_extract_and_as_text() -> None:
    assert extract(CUSTOMER, "orders.0") == '{"id":1001,"total":12.5}'
    assert extract({"a": ["x", "y"]}, "a") == '["x","y"]'
    assert extract([{"a": 1}], "0.a") == "1"
    assert as_text("中文") == "中文"
    assert as_text(False) == "false"
    with pytest.raises(LookupFailed):
        extract({"a": 1}, "a.b")
