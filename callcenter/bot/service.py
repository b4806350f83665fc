"""The bot's parts as the composition root builds them (callcenter.services._bot)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from callcenter.bot.bot import Bot
from callcenter.bot.canned import CannedResponses
from callcenter.bot.learning import BotLearning
from callcenter.bot.policy import Policy
from callcenter.kb.service import KbService

if TYPE_CHECKING:
    from callcenter.services import Services


@dataclass
class BotServices:
    bot: Bot
    learning: BotLearning
    canned: CannedResponses


def bot_services(services: Services) -> BotServices:
    assert services.kb is not None  # built before the bot
    s = services.settings
    kb = services.kb
    entries = KbService(services.db, services.bus, services.clock)
    learning = BotLearning(services.db, services.clock, kb, entries)
    sensitive = services.sensitive

    async def read_entries(ids: list[int]) -> dict[int, dict[str, Any]]:
        # Only active entries: one deactivated since the index was built is not answered.
        return {e["id"]: e for e in await entries.entries(ids=ids, include_inactive=False)}

    async def listed(text: str, language: str) -> bool:
        """A critical phrase (abuse, a threat to sue) wants a person; a warning-level one
        (a compliance word like 退款) must not stop the bot answering refund questions."""
        assert sensitive is not None
        return "critical" in await sensitive.severities(text, language)

    policy = Policy(
        threshold=kb.threshold, suggest_threshold=min(s.bot_suggest_threshold, kb.threshold),
        max_failed_turns=s.bot_max_failed_turns,
    )  # fmt: skip
    bot = Bot(kb, read_entries, policy, record=learning.record,
              sensitive=listed if sensitive is not None else None)  # fmt: skip
    return BotServices(
        bot=bot, learning=learning, canned=CannedResponses(services.db, services.clock)
    )
