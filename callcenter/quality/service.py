"""Quality review (质检): scorecards, reviews of recorded calls, per-agent summaries.

Scorecards are versioned: a version some review uses never changes what it scores.
Changing the criteria of a used scorecard stores a new version (same `family_id`,
`version` + 1) and the old one stays, read-only, for the reviews that point to it; a
change of name, labels or the active flag changes the current version in place, since
none of them changes what a score means.

Summaries count in the center's time zone (`Settings.zone`): a review belongs to the
day and week of the call it reviews (the work judged), not of the day it was written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from callcenter.agents.models import AgentStateSpanRow
from callcenter.agents.service import AgentService
from callcenter.agents.state import AgentState
from callcenter.auth.models import User, aware
from callcenter.calls.models import Call
from callcenter.calls.service import CallNotFound, CallService
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.quality.models import Review, Scorecard
from callcenter.quality.scoring import Invalid, check_criteria, check_items, weighted_score

RATING_NOTE = "customer satisfaction (CSAT) surveys do not exist yet"


class QualityNotFound(LookupError):
    pass


Row = TypeVar("Row", Scorecard, Review)


async def _get(session: AsyncSession, model: type[Row], row_id: int) -> Row:
    """The row, or QualityNotFound naming what was asked for (the API's 404)."""
    row = await session.get(model, row_id)
    if row is None:
        raise QualityNotFound(f"no {model.__name__.lower()} {row_id}")
    return row


class QualityConflict(ValueError):
    """The request collides with what is stored (a second review, a used scorecard…)."""


@dataclass(frozen=True)
class Period:
    """Whole days `first`..`last` (inclusive) in the center's zone, and their UTC bounds."""

    first: date
    last: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), self.zone).astimezone(UTC)

    def week(self, at: datetime) -> date:
        """The Monday (local) of the week `at` falls in."""
        day = _utc(at).astimezone(self.zone).date()
        return day - timedelta(days=day.weekday())

    def weeks(self) -> list[date]:
        monday = self.first - timedelta(days=self.first.weekday())
        weeks = []
        while monday <= self.last:
            weeks.append(monday)
            monday += timedelta(days=7)
        return weeks


class QualityService:
    def __init__(
        self,
        db: Database,
        calls: CallService,
        agents: AgentService,
        clock: Clock,
        zone: ZoneInfo,
    ) -> None:
        self.db = db
        self.calls = calls
        self.agents = agents
        self.clock = clock
        self.zone = zone

    def today(self) -> date:
        return self.clock.now().astimezone(self.zone).date()

    # ---- scorecards -------------------------------------------------------------------

    async def scorecards(self, *, active_only: bool = False) -> list[Scorecard]:
        """The current version of every scorecard, by name."""
        stmt = select(Scorecard).where(col(Scorecard.current).is_(True))
        if active_only:
            stmt = stmt.where(col(Scorecard.active).is_(True))
        async with self.db.session() as s:
            return list((await s.exec(stmt.order_by(col(Scorecard.name)))).all())

    async def scorecard(self, scorecard_id: int) -> Scorecard:
        """Any version, current or not (old reviews point to old ones)."""
        async with self.db.session() as s:
            card = await _get(s, Scorecard, scorecard_id)
        return card

    async def versions(self, scorecard_id: int) -> list[Scorecard]:
        card = await self.scorecard(scorecard_id)
        stmt = select(Scorecard).where(Scorecard.family_id == card.family_id)
        async with self.db.session() as s:
            return list((await s.exec(stmt.order_by(col(Scorecard.version)))).all())

    async def create_scorecard(
        self,
        *,
        name: str,
        labels: dict[str, str],
        active: bool,
        criteria: list[dict[str, Any]],
        author_id: int | None,
    ) -> Scorecard:
        check_criteria(criteria)
        card = Scorecard(name=name, labels=labels, active=active, criteria=criteria,
                         created_by=author_id, created_at=self.clock.now())  # fmt: skip
        async with self.db.session() as s:
            s.add(card)
            await s.flush()
            card.family_id = card.id
            await s.commit()
        return card

    async def update_scorecard(
        self,
        scorecard_id: int,
        *,
        name: str,
        labels: dict[str, str],
        active: bool,
        criteria: list[dict[str, Any]],
        author_id: int | None,
    ) -> Scorecard:
        """Replace the current version's definition; a new version when reviews use it
        and the criteria change (see the module's docstring)."""
        check_criteria(criteria)
        async with self.db.session() as s:
            card = await _get(s, Scorecard, scorecard_id)
            if not card.current:
                raise QualityConflict(
                    f"scorecard {scorecard_id} is an old version; edit the current one"
                )
            if criteria != card.criteria and await _used(s, card):
                card.current = False
                s.add(card)
                card = Scorecard(family_id=card.family_id, version=card.version + 1,
                                 name=name, created_by=author_id,
                                 created_at=self.clock.now())  # fmt: skip
            card.name, card.labels, card.active = name, labels, active
            card.criteria = criteria
            s.add(card)
            try:
                await s.commit()
            except IntegrityError:  # another edit made the same new version first
                raise QualityConflict("the scorecard changed meanwhile; reload it") from None
            await s.refresh(card)
        return card

    async def delete_scorecard(self, scorecard_id: int) -> None:
        """Only a scorecard no review uses (any version); a used one is deactivated."""
        async with self.db.session() as s:
            card = await s.get(Scorecard, scorecard_id)
            if card is None or not card.current:
                raise QualityNotFound(f"no current scorecard {scorecard_id}")
            family = select(Scorecard).where(Scorecard.family_id == card.family_id)
            cards = list((await s.exec(family)).all())
            for version in cards:
                if await _used(s, version):
                    raise QualityConflict(
                        "reviews use this scorecard; set it inactive instead of deleting it"
                    )
            for version in cards:
                await s.delete(version)
            await s.commit()

    # ---- reviews ----------------------------------------------------------------------

    async def review(
        self,
        *,
        call_id: int,
        scorecard_id: int,
        items: list[dict[str, Any]],
        comment: str,
        reviewer_id: int | None,
    ) -> Review:
        """Score the call's agent on the call against the current version of a scorecard."""
        try:
            call = await self.calls.call(call_id)
        except CallNotFound:
            raise Invalid(("call_id",), f"no call {call_id}") from None
        if call.agent_id is None:
            raise Invalid(("call_id",), "no agent took this call: there is nobody to review")
        if call.ended_at is None:
            raise QualityConflict("the call is still in progress")
        card = await self._usable(scorecard_id)
        points = check_items(card.criteria, items)
        score, failed = weighted_score(card.criteria, points)
        now = self.clock.now()
        assert card.id is not None and card.family_id is not None
        review = Review(
            call_id=call_id, agent_id=call.agent_id, call_started_at=call.started_at,
            reviewer_id=reviewer_id, scorecard_id=card.id, scorecard_family_id=card.family_id,
            scorecard_version=card.version, items=_items(card, items), comment=comment,
            score=score, critical_failed=failed, created_at=now, updated_at=now,
        )  # fmt: skip
        try:
            async with self.db.session() as s:
                s.add(review)
                await s.commit()
        except IntegrityError:
            raise QualityConflict(
                "you reviewed this call with this scorecard already; amend that review"
            ) from None
        return review

    async def amend(
        self, review_id: int, *, items: list[dict[str, Any]], comment: str, reviewer_id: int | None
    ) -> Review:
        """The reviewer corrects their review, on the scorecard version it was given with.
        The agent's acknowledgement was of the old scores: it is cleared."""
        async with self.db.session() as s:
            review = await _get(s, Review, review_id)
            if review.reviewer_id != reviewer_id:
                raise PermissionError("only its reviewer amends a review")
            card = await s.get(Scorecard, review.scorecard_id)
            assert card is not None
            points = check_items(card.criteria, items)
            review.score, review.critical_failed = weighted_score(card.criteria, points)
            review.items, review.comment = _items(card, items), comment
            review.updated_at, review.acknowledged_at = self.clock.now(), None
            s.add(review)
            await s.commit()
            await s.refresh(review)
        return review

    async def get_review(self, review_id: int) -> Review:
        async with self.db.session() as s:
            review = await _get(s, Review, review_id)
        return review

    async def acknowledge(self, review_id: int) -> Review:
        """The reviewed agent has read it; the first time counts."""
        async with self.db.session() as s:
            review = await _get(s, Review, review_id)
            if review.acknowledged_at is None:
                review.acknowledged_at = self.clock.now()
                s.add(review)
                await s.commit()
                await s.refresh(review)
        return review

    async def reviews(
        self,
        *,
        agent_id: int | None = None,
        call_id: int | None = None,
        period: Period | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Review], int]:
        """Newest calls first."""
        conds: list[Any] = []
        if agent_id is not None:
            conds.append(Review.agent_id == agent_id)
        if call_id is not None:
            conds.append(Review.call_id == call_id)
        if period is not None:
            conds.append(col(Review.call_started_at) >= period.start)
            conds.append(col(Review.call_started_at) < period.end)
        stmt = select(Review).where(*conds)
        stmt = stmt.order_by(col(Review.call_started_at).desc(), col(Review.id).desc())
        async with self.db.session() as s:
            rows = list((await s.exec(stmt.offset(offset).limit(limit))).all())
            total = (await s.exec(select(func.count()).select_from(Review).where(*conds))).one()
        return rows, int(total)

    async def review_public(self, reviews: Sequence[Review]) -> list[dict[str, Any]]:
        """Reviews as the API shows them: each criterion with its label, weight and the
        points given; the call they judge; who reviewed whom."""
        card_ids = {r.scorecard_id for r in reviews}
        call_ids = {r.call_id for r in reviews}
        user_ids = {r.agent_id for r in reviews} | {r.reviewer_id or 0 for r in reviews}
        async with self.db.session() as s:
            cards = {c.id: c for c in await _all(s, Scorecard, Scorecard.id, card_ids)}
            calls = {c.id: c for c in await _all(s, Call, Call.id, call_ids)}
            names = {u.id: u.display_name or u.username
                     for u in await _all(s, User, User.id, user_ids)}  # fmt: skip
        return [_review_public(r, cards[r.scorecard_id], calls.get(r.call_id), names)
                for r in reviews]  # fmt: skip

    async def names(self, user_ids: set[int]) -> dict[int, str]:
        async with self.db.session() as s:
            users = await _all(s, User, User.id, set(user_ids))
        return {u.id: u.display_name or u.username for u in users if u.id is not None}

    # ---- what to review ---------------------------------------------------------------

    async def queue(
        self,
        period: Period,
        *,
        agent_id: int | None = None,
        unreviewed: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[tuple[Call, int]], int]:
        """Recorded calls an agent took in the period, newest first, with their number of
        reviews; `unreviewed`: only those nobody reviewed yet."""
        await self.calls.flush()  # calls just recorded are written in the next batch
        reviewed = select(Review.call_id).where(Review.call_id == Call.id)
        conds: list[Any] = [
            col(Call.recording).is_not(None), col(Call.agent_id).is_not(None),
            col(Call.started_at) >= period.start, col(Call.started_at) < period.end,
        ]  # fmt: skip
        if agent_id is not None:
            conds.append(Call.agent_id == agent_id)
        if unreviewed:
            conds.append(~exists(reviewed))
        count_reviews = (
            select(func.count()).select_from(Review).where(Review.call_id == Call.id)
        ).scalar_subquery()
        stmt = (
            select(Call, count_reviews)
            .where(*conds)
            .order_by(col(Call.started_at).desc(), col(Call.id).desc())
        )
        async with self.db.session() as s:
            rows = (await s.exec(stmt.offset(offset).limit(limit))).all()
            total = (await s.exec(select(func.count()).select_from(Call).where(*conds))).one()
        return [(call, int(n)) for call, n in rows], int(total)

    # ---- per-agent summaries ----------------------------------------------------------

    async def summaries(
        self, period: Period, agent_ids: Iterable[int] | None = None
    ) -> list[dict[str, Any]]:
        """Quality and activity per agent over the period; every agent (role agent, or
        anyone with handled calls or reviews in it) when `agent_ids` is None."""
        wanted = None if agent_ids is None else set(agent_ids)
        reviews = await self._period_reviews(period, wanted)
        handled = await self._handled(period, wanted)
        views = await self.agents.agents(wanted)
        online = await self._online(period, wanted, [view.user_id for view in views])
        out = []
        for view in views:
            busy = view.user_id in reviews or view.user_id in handled
            if wanted is None and view.role != "agent" and not busy:
                continue
            out.append(
                self._summary(
                    period, agent_id=view.user_id, name=view.display_name or view.username,
                    teams=sorted(view.profile.teams), reviews=reviews.get(view.user_id, []),
                    handled=handled.get(view.user_id, (0, 0.0)),
                    online=online.get(view.user_id, 0.0),
                )
            )  # fmt: skip
        return out

    def _summary(
        self,
        period: Period,
        *,
        agent_id: int,
        name: str,
        teams: list[str],
        reviews: list[tuple[datetime, float, bool]],
        handled: tuple[int, float],
        online: float,
    ) -> dict[str, Any]:
        by_week: dict[date, list[float]] = defaultdict(list)
        for started, score, _ in reviews:
            by_week[period.week(started)].append(score)
        trend = [{"week": week.isoformat(), "reviews": len(by_week[week]),
                  "average": _mean(by_week[week])} for week in period.weeks()]  # fmt: skip
        count, handle_seconds = handled
        return {
            "agent": {"id": agent_id, "name": name, "teams": teams},
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "time_zone": period.zone.key,
            "reviews": len(reviews),
            "average_score": _mean([score for _, score, _ in reviews]),
            "critical_failures": sum(1 for *_, failed in reviews if failed),
            "trend": trend,
            "online_seconds": round(online, 1),
            "handled": count,
            "average_handle_seconds": round(handle_seconds / count, 1) if count else None,
            "rating": None,
            "rating_note": RATING_NOTE,
        }

    async def _period_reviews(
        self, period: Period, wanted: set[int] | None
    ) -> dict[int, list[tuple[datetime, float, bool]]]:
        stmt = select(Review.agent_id, Review.call_started_at, Review.score,
                      Review.critical_failed).where(
            col(Review.call_started_at) >= period.start, col(Review.call_started_at) < period.end
        )  # fmt: skip
        if wanted is not None:
            stmt = stmt.where(col(Review.agent_id).in_(wanted))
        out: dict[int, list[tuple[datetime, float, bool]]] = defaultdict(list)
        async with self.db.session() as s:
            for agent, started, score, failed in (await s.exec(stmt)).all():
                out[agent].append((started, score, failed))
        return out

    async def _handled(
        self, period: Period, wanted: set[int] | None
    ) -> dict[int, tuple[int, float]]:
        """Calls each agent answered (a talk time is recorded), and their handle time:
        talk + hold + wrap-up, as the wallboard's AHT."""
        await self.calls.flush()
        handle = (
            func.coalesce(Call.talk_seconds, 0.0)
            + func.coalesce(Call.hold_seconds, 0.0)
            + func.coalesce(Call.wrap_up_seconds, 0.0)
        )
        stmt = (
            select(Call.agent_id, func.count(), func.sum(handle))
            .where(col(Call.agent_id).is_not(None), col(Call.talk_seconds).is_not(None))
            .where(col(Call.started_at) >= period.start, col(Call.started_at) < period.end)
            .group_by(col(Call.agent_id))
        )
        if wanted is not None:
            stmt = stmt.where(col(Call.agent_id).in_(wanted))
        async with self.db.session() as s:
            rows = (await s.exec(stmt)).all()
        return {int(agent): (int(n), float(total or 0.0)) for agent, n, total in rows if agent}

    async def _online(
        self, period: Period, wanted: set[int] | None, present: Iterable[int]
    ) -> dict[int, float]:
        """Seconds logged in (every state but offline) within the period: the stored
        spans, clipped to it, plus the state each agent is in now."""
        start, end = period.start, period.end
        span = AgentStateSpanRow
        stmt = select(span.agent_id, span.started_at, span.ended_at).where(
            span.state != AgentState.OFFLINE, col(span.started_at) < end, col(span.ended_at) > start
        )
        if wanted is not None:
            stmt = stmt.where(col(span.agent_id).in_(wanted))
        out: dict[int, float] = defaultdict(float)
        async with self.db.session() as s:
            for agent, began, ended in (await s.exec(stmt)).all():
                out[agent] += _overlap(_utc(began), _utc(ended), start, end)
        now = self.clock.now()
        for agent in present:  # the running span is not stored until it ends
            presence = self.agents.presence(agent)
            if presence.state != AgentState.OFFLINE:
                out[agent] += _overlap(datetime.fromtimestamp(presence.since, UTC), now, start, end)
        return dict(out)

    async def _usable(self, scorecard_id: int) -> Scorecard:
        try:
            card = await self.scorecard(scorecard_id)
        except QualityNotFound:
            raise Invalid(("scorecard_id",), f"no scorecard {scorecard_id}") from None
        if not card.current:
            raise Invalid(("scorecard_id",), "an old version; review with the current one")
        if not card.active:
            raise Invalid(("scorecard_id",), "this scorecard is inactive")
        return card


def scorecard_public(card: Scorecard) -> dict[str, Any]:
    return {
        "id": card.id,
        "family_id": card.family_id,
        "version": card.version,
        "current": card.current,
        "name": card.name,
        "labels": card.labels,
        "active": card.active,
        "criteria": card.criteria,
        "created_at": _iso(card.created_at),
    }


def _review_public(
    review: Review, card: Scorecard, call: Call | None, names: dict[int | None, str]
) -> dict[str, Any]:
    given = {item["key"]: item for item in review.items}
    criteria = [{**c, "points": given[c["key"]]["points"], "comment": given[c["key"]]["comment"]}
                for c in card.criteria]  # fmt: skip
    return {
        "id": review.id,
        "call": {
            "id": review.call_id,
            "started_at": _iso(review.call_started_at),
            "caller_number": call.caller_number if call else None,
            "queue": call.queue if call else None,
            "talk_seconds": call.talk_seconds if call else None,
            "recording_url": f"/api/calls/{review.call_id}/recording"
            if call is not None and call.recording
            else None,
        },
        "agent": {"id": review.agent_id, "name": names.get(review.agent_id, "")},
        "reviewer": {"id": review.reviewer_id, "name": names.get(review.reviewer_id, "")},
        "scorecard": {
            "id": card.id,
            "family_id": card.family_id,
            "version": card.version,
            "name": card.name,
            "labels": card.labels,
        },
        "criteria": criteria,
        "comment": review.comment,
        "score": review.score,
        "critical_failed": review.critical_failed,
        "created_at": _iso(review.created_at),
        "updated_at": _iso(review.updated_at),
        "acknowledged_at": _iso(review.acknowledged_at),
    }


def _items(card: Scorecard, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items in the scorecard's order, only what is stored of them."""
    given = {item["key"]: item for item in items}
    return [{"key": c["key"], "points": given[c["key"]]["points"],
             "comment": given[c["key"]].get("comment", "")} for c in card.criteria]  # fmt: skip


async def _used(session: Any, card: Scorecard) -> bool:
    stmt = select(Review.id).where(Review.scorecard_id == card.id).limit(1)
    return (await session.exec(stmt)).first() is not None


async def _all(session: Any, model: Any, key: Any, ids: set[Any]) -> list[Any]:
    if not ids:
        return []
    return list((await session.exec(select(model).where(col(key).in_(ids)))).all())


def _overlap(began: datetime, ended: datetime, start: datetime, end: datetime) -> float:
    return max(0.0, (min(ended, end) - max(began, start)).total_seconds())


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _utc(at: datetime) -> datetime:
    stamped = aware(at)
    assert stamped is not None
    return stamped


def _iso(at: datetime | None) -> str | None:
    stamped = aware(at)
    return stamped.isoformat() if stamped is not None else None
