"""The bot over REST (docs/bot.md, docs/api.md): an admin's trial of a turn, the
self-learning suggestions, and turning an agent's good reply into a KB entry.

Thin: parse, call callcenter.bot, answer. Trying the bot and deciding suggestions need
`kb.manage`; proposing an entry from a reply needs `kb.read` (a draft, inactive) and
with `kb.manage` the entry is active at once.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from callcenter.api.deps import ServicesDep, invalid, require
from callcenter.auth.permissions import Permission, Principal
from callcenter.bot.bot import BotContext
from callcenter.bot.learning import SuggestionDecided, SuggestionNotFound
from callcenter.bot.service import BotServices
from callcenter.kb.service import KbRefused, KbService, NewEntry
from callcenter.kb.text import detect_language

router = APIRouter(tags=["bot"])
T = TypeVar("T")

Reader = Annotated[Principal, Depends(require(Permission.KB_READ))]
Manager = Annotated[Principal, Depends(require(Permission.KB_MANAGE))]
FROM_REPLY_TAG = "from-reply"


async def get_bot(services: ServicesDep) -> BotServices:
    assert services.bot is not None  # always set by running_services
    return services.bot


BotDep = Annotated[BotServices, Depends(get_bot)]


class TryTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=500)
    language: str | None = Field(default=None, pattern="^(zh|en)$")
    failed_turns: int = Field(default=0, ge=0, le=100)
    # A "did you mean" suggestion clicked: the bot answers with this entry.
    entry_id: int | None = None


class Accept(BaseModel):
    """The entry an accepted suggestion becomes. `question` defaults to the
    suggestion's representative question, `similar_questions` to its other questions."""

    model_config = ConfigDict(extra="forbid")
    answer: str = Field(min_length=1, max_length=20_000)
    question: str | None = Field(default=None, min_length=1, max_length=500)
    similar_questions: list[str] | None = Field(default=None, max_length=50)
    category_id: int | None = None
    tags: list[str] = Field(default_factory=list, max_length=20)


class FromReply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=500)
    answer: str = Field(min_length=1, max_length=20_000)
    language: str | None = Field(default=None, pattern="^(zh|en)$")
    category_id: int | None = None


async def _answer(work: Awaitable[T]) -> T:
    try:
        return await work
    except SuggestionNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except SuggestionDecided as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except KbRefused as exc:
        raise invalid(exc.message, exc.field, code=409 if exc.conflict else 422) from None


@router.post("/api/bot/try")
async def try_turn(body: TryTurn, bot: BotDep, _: Manager) -> dict[str, Any]:
    """What the bot would reply to `text` in a conversation with `failed_turns` so far
    (with `entry_id`: to the visitor clicking that suggestion); nothing is stored (the
    question does not reach the suggestions)."""
    context = BotContext(language=body.language, failed_turns=body.failed_turns)
    if body.entry_id is not None:
        reply = await bot.bot.choose(context, body.entry_id)
    else:
        reply = await bot.bot.turn(context, body.text, learn=False)
    return reply.as_dict()


@router.get("/api/bot/suggestions")
async def list_suggestions(
    bot: BotDep,
    _: Manager,
    status: Annotated[str, Query(pattern="^(open|accepted|dismissed)$")] = "open",
    language: Annotated[str | None, Query(pattern="^(zh|en)$")] = None,
    min_count: Annotated[int, Query(ge=1)] = 1,
) -> list[dict[str, Any]]:
    """Clusters of questions the bot could not answer, most asked first. Listing open
    ones first places the questions stored since the last listing."""
    return await bot.learning.suggestions(status=status, language=language, min_count=min_count)


@router.post("/api/bot/suggestions/{suggestion_id}/accept", status_code=status.HTTP_201_CREATED)
async def accept_suggestion(
    suggestion_id: int, body: Accept, bot: BotDep, who: Manager
) -> dict[str, Any]:
    """Create a KB entry from the suggestion (searchable at once); `{suggestion, entry}`."""
    found = await _answer(bot.learning.suggestion(suggestion_id))
    question = (body.question or found["representative"]).strip()
    if not question:
        raise invalid("may not be empty", "question")
    similar = body.similar_questions
    if similar is None:
        asked = await bot.learning.questions_of(suggestion_id)
        similar = [q for q in asked if q != question][:50]
    entry = NewEntry(kind="qa", language=found["language"], category_id=body.category_id,
                     question=question, answer=body.answer, similar_questions=similar,
                     tags=body.tags)  # fmt: skip
    return await _answer(bot.learning.accept(suggestion_id, entry, who))


@router.post("/api/bot/suggestions/{suggestion_id}/dismiss")
async def dismiss_suggestion(suggestion_id: int, bot: BotDep, who: Manager) -> dict[str, Any]:
    """Not worth an entry: its questions are not offered again."""
    return await _answer(bot.learning.dismiss(suggestion_id, who))


@router.post("/api/kb/from-reply", status_code=status.HTTP_201_CREATED)
async def entry_from_reply(body: FromReply, services: ServicesDep, who: Reader) -> dict[str, Any]:
    """An agent's good reply as a Q&A entry, tagged `from-reply`: active at once for
    `kb.manage`, else an inactive draft an admin reviews on the KB page."""
    assert services.kb is not None
    kb = KbService(services.db, services.bus, services.clock)
    entry = NewEntry(
        kind="qa", language=body.language or detect_language(body.question),
        category_id=body.category_id, question=body.question.strip() or body.question,
        answer=body.answer, tags=[FROM_REPLY_TAG], active=who.has(Permission.KB_MANAGE),
    )  # fmt: skip
    created = await _answer(kb.create_entry(entry, who))
    services.kb.invalidate()
    return created
