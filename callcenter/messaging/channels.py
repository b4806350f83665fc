"""Channels as configured: `CALLCENTER_MESSAGING_CHANNELS`, a JSON list (docs/messaging.md).

Settings rather than a table: every channel carries secrets (an HMAC key, a WeChat app
secret and token) that belong with the other secrets of the deployment (environment or
secrets file), are never shown back, and change as rarely as the site's chat secrets.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

NAME = re.compile(r"^[a-z0-9_-]{1,32}$")
Kind = Literal["wechat", "webhook"]
WECHAT_API = "https://api.weixin.qq.com"


@dataclass(frozen=True)
class Channel:
    kind: Kind
    name: str
    secret: str  # webhook: the HMAC key both ways; wechat: the app secret (AppSecret)
    url: str = ""  # webhook: where outbound messages are POSTed
    token: str = ""  # wechat: the token set in the 公众号 server configuration
    app_id: str = ""  # wechat
    api_base: str = WECHAT_API  # wechat: tests point it at a local server
    welcome: str = ""  # wechat: the passive answer to a new follower (subscribe)

    @property
    def site(self) -> str:
        """The chat `site` of its visitors: `channel:kind:name` (+ `:user` = identity)."""
        return f"channel:{self.kind}:{self.name}"

    def view(self) -> dict[str, Any]:
        """What an admin sees: never a secret."""
        return {"kind": self.kind, "name": self.name, "site": self.site,
                "url": self.url, "app_id": self.app_id, "api_base": self.api_base}  # fmt: skip


def _text(raw: dict[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"{where}: {key} must be a string")
    if required and not value.strip():
        raise ValueError(f"{where}: {key} is required")
    return value.strip()


def parse_channels(raw: str) -> dict[str, Channel]:
    """The channels by name; ValueError naming the bad entry (start-up stops on it)."""
    if not raw.strip():
        return {}
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"CALLCENTER_MESSAGING_CHANNELS is not JSON: {exc}") from None
    if not isinstance(items, list):
        raise ValueError("CALLCENTER_MESSAGING_CHANNELS must be a JSON list of channels")
    channels: dict[str, Channel] = {}
    for n, item in enumerate(items):
        where = f"messaging channel #{n + 1}"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: must be an object")
        name = _text(item, "name", where, required=True)
        if not NAME.match(name) or name in channels:
            raise ValueError(f"{where}: name must be unique, 1-32 of a-z 0-9 _ -")
        kind = item.get("kind")
        if kind == "webhook":
            url = _text(item, "url", where, required=True)
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{where}: url must be http:// or https://")
            channels[name] = Channel("webhook", name, _text(item, "secret", where, required=True),
                                     url=url)  # fmt: skip
        elif kind == "wechat":
            api_base = _text(item, "api_base", where) or WECHAT_API
            channels[name] = Channel(
                "wechat", name, _text(item, "app_secret", where, required=True),
                token=_text(item, "token", where, required=True),
                app_id=_text(item, "app_id", where, required=True),
                api_base=api_base.rstrip("/"), welcome=_text(item, "welcome", where),
            )  # fmt: skip
        else:
            raise ValueError(f"{where}: kind must be wechat or webhook")
    return channels
