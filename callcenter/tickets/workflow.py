"""The status transitions a ticket may make, as a table (docs/tickets.md).

`closed` is final: a closed ticket takes no change and no comment; a follow-up is a new
ticket. `solved` may only be reopened (-> open) or closed. Nothing goes back to `new`:
it only means "nobody has acted on it yet".
"""

from __future__ import annotations

from collections.abc import Mapping

TRANSITIONS: Mapping[str, tuple[str, ...]] = {
    "new": ("open", "pending", "on_hold", "solved", "closed"),
    "open": ("pending", "on_hold", "solved", "closed"),
    "pending": ("open", "on_hold", "solved", "closed"),
    "on_hold": ("open", "pending", "solved", "closed"),
    "solved": ("open", "closed"),
    "closed": (),
}


class TransitionRefused(ValueError):
    """`status` cannot go from `old` to `new`; the message lists where it may go."""

    def __init__(self, old: str, new: str) -> None:
        allowed = TRANSITIONS.get(old, ())
        where = f"one of {', '.join(allowed)}" if allowed else f"nothing: {old} is final"
        super().__init__(f"{old} -> {new} is not allowed; from {old}: {where}")
        self.allowed = allowed


def check_transition(old: str, new: str) -> None:
    """Nothing when `old -> new` is allowed (or no change); TransitionRefused otherwise."""
    if old == new and old != "closed":
        return
    if new not in TRANSITIONS.get(old, ()):
        raise TransitionRefused(old, new)
