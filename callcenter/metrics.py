"""The contact-center metrics, defined once (docs/metrics.md says the same in words).

The live wallboard counts events as they happen and the reports sum stored records, but
both end in a `Tally` and read service level, ASA, AHT and abandonment from it here, so
a number on the wallboard and the same number in a report can never mean two things.

The unit everything counts is a *queue visit*: a contact that entered a queue and left
it answered by an agent, abandoned (the customer gave up) or overflowed (sent on by the
queue: to another queue, voicemail or a callback, or taken back by the flow's own time
limit). A call that overflows from one queue to another is offered to both.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Literal

AbandonedInServiceLevel = Literal["counted", "ignored"]


class VisitOutcome(StrEnum):
    """How a contact left a queue."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"
    OVERFLOWED = "overflowed"


@dataclass(frozen=True)
class ServiceLevel:
    """A queue's service-level objective, e.g. 80/20: 80 % answered within 20 seconds.

    `abandoned: counted` (the usual choice) counts a contact that gave up against the
    service level; `ignored` leaves abandoned contacts out of it. Either way a contact
    that gave up within `short_abandon` seconds is no real offer (a misdial, a caller who
    changed their mind) and is left out of offered, abandoned and the service level.
    """

    seconds: float = 20.0
    target: float = 0.8  # a fraction; configuration and the UI say 80 (%)
    abandoned: AbandonedInServiceLevel = "counted"
    short_abandon: float = 5.0


@dataclass
class Tally:
    """What happened in a queue (or a team, a day, the whole floor) over a period.

    Counts and sums only, so tallies add up (`+`) and a database can compute them with
    COUNT and SUM. The rates are read from them by the methods below.
    """

    entered: int = 0  # queue visits, short abandons included
    answered: int = 0
    answered_in_time: int = 0  # answered within the service-level threshold
    abandoned: int = 0  # short abandons included
    short_abandoned: int = 0
    overflowed: int = 0
    answer_wait: float = 0.0  # seconds waited by the answered contacts, summed
    abandon_wait: float = 0.0  # seconds waited by the abandoned ones (short excluded)
    handled: int = 0  # conversations finished (talk, hold and wrap-up all known)
    talk: float = 0.0  # seconds, hold excluded
    hold: float = 0.0
    wrap_up: float = 0.0
    transfers: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def count(
        self, outcome: VisitOutcome, waited: float, sl: ServiceLevel, *, entered: bool = True
    ) -> None:
        """One queue visit ended after `waited` seconds."""
        self.entered += 1 if entered else 0
        if outcome == VisitOutcome.ANSWERED:
            self.answered += 1
            self.answered_in_time += waited <= sl.seconds
            self.answer_wait += waited
        elif outcome == VisitOutcome.ABANDONED:
            self.abandoned += 1
            if waited < sl.short_abandon:
                self.short_abandoned += 1
            else:
                self.abandon_wait += waited
        else:
            self.overflowed += 1

    def handle(self, talk: float, hold: float, wrap_up: float, transfers: int = 0) -> None:
        """One conversation is over, its wrap-up too."""
        self.handled += 1
        self.talk += talk
        self.hold += hold
        self.wrap_up += wrap_up
        self.transfers += transfers

    @property
    def offered(self) -> int:
        """Contacts that entered the queue, short abandons excluded."""
        return self.entered - self.short_abandoned

    @property
    def real_abandoned(self) -> int:
        return self.abandoned - self.short_abandoned

    def service_level(self, sl: ServiceLevel) -> float | None:
        """Answered within the threshold / the contacts that count (None: none yet)."""
        counted = self.answered + self.overflowed
        if sl.abandoned == "counted":
            counted += self.real_abandoned
        return self.answered_in_time / counted if counted else None

    @property
    def asa(self) -> float | None:
        """Average speed of answer: seconds the answered contacts waited, on average."""
        return self.answer_wait / self.answered if self.answered else None

    @property
    def aht(self) -> float | None:
        """Average handle time: talk + hold + wrap-up per handled conversation."""
        total = self.talk + self.hold + self.wrap_up
        return total / self.handled if self.handled else None

    @property
    def abandonment_rate(self) -> float | None:
        """Abandoned / offered, short abandons left out of both."""
        return self.real_abandoned / self.offered if self.offered else None

    @property
    def average_abandon_wait(self) -> float | None:
        return self.abandon_wait / self.real_abandoned if self.real_abandoned else None

    def summary(self, sl: ServiceLevel) -> dict[str, float | int | None]:
        """The figures a wallboard tile or a report row shows, rounded for people."""
        return {
            "offered": self.offered,
            "answered": self.answered,
            "answered_in_time": self.answered_in_time,
            "abandoned": self.real_abandoned,
            "short_abandoned": self.short_abandoned,
            "overflowed": self.overflowed,
            "handled": self.handled,
            "transfers": self.transfers,
            "service_level": _round(self.service_level(sl), 4),
            "asa": _round(self.asa, 1),
            "aht": _round(self.aht, 1),
            "abandonment_rate": _round(self.abandonment_rate, 4),
            "average_abandon_wait": _round(self.average_abandon_wait, 1),
            "talk": round(self.talk, 1),
            "hold": round(self.hold, 1),
            "wrap_up": round(self.wrap_up, 1),
        }


def occupancy(busy: float, available: float) -> float | None:
    """Share of the ready time spent on contacts: busy / (busy + available).

    Busy is ringing, talking, holding and wrap-up; breaks and offline time are neither.
    """
    total = busy + available
    return busy / total if total > 0 else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
