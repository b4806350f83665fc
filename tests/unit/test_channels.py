"""What the controller reads from ARI's channel JSON when it resyncs after a restart."""

from callcenter.pbx.channels import Channel, hangup_cause_text


def _channel(app_name: str, app_data: str) -> Channel:
    return Channel.from_ari(
        {
            "id": "1.1",
            "name": "PJSIP/carrier-in-00000001",
            "state": "Up",
            "dialplan": {
                "context": "inbound",
                "exten": "100",
                "app_name": app_name,
                "app_data": app_data,
            },
        }
    )


def test_stasis_app_and_args_come_from_the_dialplan_data():
    channel = _channel("Stasis", "callcenter,inbound,100")
    assert channel.stasis_app == "callcenter"
    assert channel.stasis_args == ["inbound", "100"]


def test_a_channel_outside_stasis_has_no_app():
    channel = _channel("Playback", "im-sorry")
    assert channel.stasis_app == ""
    assert channel.stasis_args == []


def test_hangup_causes_read_as_asterisk_names_them():
    assert hangup_cause_text(16) == "Normal Clearing"
    assert hangup_cause_text(17) == "User busy"
    assert hangup_cause_text(250) == "cause 250"
    assert hangup_cause_text(None) is None
