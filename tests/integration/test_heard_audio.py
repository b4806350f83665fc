"""The simulator's record of what a caller heard tells silence from sound.

The controller-restart test relies on it to prove the caller never sat in silence, so
it must see silence where there is some: extension 199 answers and says nothing.
"""

from __future__ import annotations

import pytest

from callcenter.pbx.carrier import longest_silence, place_call

pytestmark = pytest.mark.asterisk


async def test_a_silent_line_is_heard_as_silence(asterisk):
    report = await place_call(asterisk.settings, "199", hold=2.0, record=True)
    assert report.answered, report
    assert report.heard is not None and report.heard.exists()
    assert longest_silence(report.heard) > 1.5


async def test_an_apology_is_heard_as_sound(asterisk):
    # No controller runs against this PBX: number 100 gets the dialplan's apology.
    report = await place_call(asterisk.settings, "100", hold=8.0, record=True)
    assert report.answered and report.hung_up_by == "pbx", report
    assert report.heard is not None
    assert longest_silence(report.heard) < 1.0
