"""The status table: every status has a row, closed is final, nothing returns to new."""

from __future__ import annotations

import pytest

from callcenter.tickets.models import STATUSES
from callcenter.tickets.workflow import TRANSITIONS, TransitionRefused, check_transition


def test_the_table_covers_every_status_and_only_known_ones():
    assert set(TRANSITIONS) == set(STATUSES)
    assert all(set(targets) <= set(STATUSES) for targets in TRANSITIONS.values())
    assert not any("new" in targets for targets in TRANSITIONS.values())


@pytest.mark.parametrize(
    ("old", "new"),
    [("new", "open"), ("open", "pending"), ("pending", "on_hold"), ("solved", "open"),
     ("solved", "closed"), ("on_hold", "solved"), ("open", "open")],
)  # fmt: skip
def test_allowed_moves_pass(old, new):
    check_transition(old, new)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [("solved", "pending", "from solved: one of open, closed"),
     ("closed", "open", "from closed: nothing: closed is final"),
     ("closed", "closed", "closed is final"),
     ("open", "new", "from open: one of pending, on_hold, solved, closed")],
)  # fmt: skip
def test_refused_moves_name_where_the_status_may_go(old, new, message):
    with pytest.raises(TransitionRefused) as refused:
        check_transition(old, new)
    assert message in str(refused.value)
