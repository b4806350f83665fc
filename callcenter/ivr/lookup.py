"""The `lookup` node: ask an outside system (a CRM) and keep parts of its JSON answer.

Every way it can go wrong (timeout, refused, an error status, not JSON, a missing field)
is one `LookupFailed`, because the flow has one answer to all of them: `on_error`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import quote

import aiohttp

from callcenter.ivr.model import LookupNode
from callcenter.ivr.tts import fill

MAX_ANSWER_BYTES = 1024 * 1024  # a CRM answer is small; a bigger one is a mistake


class LookupFailed(Exception):
    """The lookup gave no usable answer; `reason` says why, for the call's event log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def build_url(template: str, variables: Mapping[str, str]) -> str:
    """Fill `{name}` placeholders, each value escaped as one URL component.

    Escaping everything ("/" and "?" included) keeps a caller's input inside its
    placeholder: digits typed by a caller can never change the path or add parameters.
    """
    return fill(template, variables, encode=partial(quote, safe=""))


def extract(document: Any, path: str) -> str:
    """The value at a dotted path ("customer.orders.0.id") of decoded JSON, as text.

    Flow variables are strings: null -> "", booleans -> "true"/"false", objects and
    lists -> their JSON.
    """
    value = document
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise LookupFailed(f"no {path!r} in the answer")
    return as_text(value)


def as_text(value: Any) -> str:
    """A JSON value as a flow variable."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


async def run_lookup(
    node: LookupNode,
    variables: Mapping[str, str],
    session: aiohttp.ClientSession | None = None,
) -> dict[str, str]:
    """Call the node's URL and return its `store` variables taken from the JSON answer.

    GET sends nothing but the URL; POST also sends the flow's variables as a JSON object.
    `node.timeout` bounds the whole exchange. Pass `session` to reuse connections; without
    one a session is opened for this call only. Raises `LookupFailed`.
    """
    url = build_url(node.url, variables)
    if session is not None:
        document = await _fetch(session, node, url, variables)
    else:
        async with aiohttp.ClientSession() as own:
            document = await _fetch(own, node, url, variables)
    return {name: extract(document, path) for name, path in node.store.items()}


async def _fetch(
    session: aiohttp.ClientSession, node: LookupNode, url: str, variables: Mapping[str, str]
) -> Any:
    """The decoded JSON answer, or `LookupFailed`."""
    where = f"{node.method} {url}"
    options: dict[str, Any] = {
        "timeout": aiohttp.ClientTimeout(total=node.timeout),
        "headers": {"Accept": "application/json"},
    }
    if node.method == "POST":
        options["json"] = dict(variables)
    try:
        async with session.request(node.method, url, **options) as response:
            if not 200 <= response.status < 300:
                raise LookupFailed(f"{where}: HTTP {response.status}")
            body = await response.content.read(MAX_ANSWER_BYTES + 1)
    except TimeoutError:  # aiohttp's timeouts are TimeoutError subclasses
        raise LookupFailed(f"{where}: no answer within {node.timeout:g} s") from None
    except (aiohttp.ClientError, ValueError) as exc:  # refused, reset, bad URL...
        raise LookupFailed(f"{where}: {exc.__class__.__name__}: {exc}") from exc
    if len(body) > MAX_ANSWER_BYTES:
        raise LookupFailed(f"{where}: the answer is over {MAX_ANSWER_BYTES} bytes")
    try:
        return json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError, empty body included
        raise LookupFailed(f"{where}: the answer is not JSON") from None
