"""GET /api/speech/stats: supervisors see the speech pool's figures; agents do not."""

from __future__ import annotations

from tests.support.app import app_client, bearer


def test_supervisors_see_speech_stats_and_agents_do_not(tmp_path):
    with app_client(tmp_path, [("sue", "supervisor"), ("amy", "agent")]) as client:
        r = client.get("/api/speech/stats", headers=bearer(client, "sue"))
        assert r.status_code == 200, r.text
        # No call was transcribed and no queue asks for it: no worker was started.
        assert r.json() == {"started": False, "live": None}
        r = client.get("/api/speech/stats", headers=bearer(client, "amy"))
        assert r.status_code == 403
        assert client.get("/api/speech/stats").status_code == 401
