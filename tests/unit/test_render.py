"""asterisk-conf templates -> config text, checked without an Asterisk."""

from __future__ import annotations

import re

import pytest

from callcenter.config import Settings
from callcenter.pbx.render import (
    NOLOAD_MODULES,
    DeskPhone,
    InstanceDirs,
    RenderError,
    render_config,
)

DIRS = InstanceDirs(
    tree="/var/lib/callcenter/instances/t-1",
    moddir="/usr/lib/x86_64-linux-gnu/asterisk/modules",
    datadir="/usr/share/asterisk",
    run_user="asterisk",
)


def _settings(**overrides: object) -> Settings:
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


def _render(settings: Settings | None = None, phones: list[DeskPhone] | None = None) -> dict:
    return render_config(
        settings or _settings(),
        DIRS,
        ari_password="ari-secret_1",
        ami_password="ami-secret_1",
        desk_phones=phones or [],
    )


def _sections(text: str) -> list[str]:
    return re.findall(r"^\[([^\]]+)\]", text, re.M)


def test_renders_every_file() -> None:
    files = _render()
    for name in (
        "asterisk.conf", "modules.conf", "logger.conf", "http.conf", "ari.conf",
        "manager.conf", "rtp.conf", "pjsip.conf", "extensions.conf",
    ):  # fmt: skip
        assert name in files, name


def test_directories_point_into_the_instance_tree() -> None:
    conf = _render()["asterisk.conf"]
    for key in ("astetcdir", "astrundir", "astlogdir", "astspooldir", "astdbdir", "astkeydir"):
        assert re.search(rf"^{key} => {DIRS.tree}/", conf, re.M), key
    assert f"astmoddir => {DIRS.moddir}" in conf
    assert f"astdatadir => {DIRS.datadir}" in conf
    assert "runuser = asterisk" in conf


def test_ari_and_ami_bind_loopback_with_generated_passwords() -> None:
    files = _render(_settings(ari_port=18088, ami_port=15038))
    assert "bindaddr = 127.0.0.1" in files["http.conf"]
    assert "bindport = 18088" in files["http.conf"]
    assert "password = ari-secret_1" in files["ari.conf"]
    assert "[callcenter]" in files["ari.conf"]
    assert "bindaddr = 127.0.0.1" in files["manager.conf"]
    assert "port = 15038" in files["manager.conf"]
    assert "secret = ami-secret_1" in files["manager.conf"]


def test_rtp_range_from_settings() -> None:
    rtp = _render(_settings(rtp_port_start=21000, rtp_port_end=21999))["rtp.conf"]
    assert "rtpstart = 21000" in rtp and "rtpend = 21999" in rtp


def test_pjsip_has_no_anonymous_endpoint_and_binds_loopback() -> None:
    pjsip = _render()["pjsip.conf"]
    assert "anonymous" not in _sections(pjsip)
    assert "res_pjsip_endpoint_identifier_anonymous" in NOLOAD_MODULES
    assert "bind = 127.0.0.1:5060" in pjsip
    assert "bind = 127.0.0.1:5062" in pjsip


def test_carrier_sim_is_identified_by_its_source_port_only() -> None:
    pjsip = _render(_settings(sip_port=15060, carrier_sim_port=15062))["pjsip.conf"]
    assert "contact = sip:127.0.0.1:15060" in pjsip
    assert "match = 127.0.0.1:15062" in pjsip
    assert not re.search(r"^match = 127\.0\.0\.1\s*$", pjsip, re.M)


def test_trunk_only_when_configured() -> None:
    assert "trunk" not in _sections(_render()["pjsip.conf"])
    settings = _settings(
        trunk_host="sip.example.net",
        trunk_username="acct42",
        trunk_password="s3cret-pass",
        trunk_numbers="+3215550100, +3215550101",
    )
    pjsip = _render(settings)["pjsip.conf"]
    assert _sections(pjsip).count("trunk") == 5  # registration, auth, aor, endpoint, identify
    assert "server_uri = sip:sip.example.net:5060" in pjsip
    assert "contact_user = +3215550100" in pjsip
    assert "match = sip.example.net" in pjsip


def test_trunk_rejects_injection() -> None:
    with pytest.raises(RenderError):
        _render(_settings(trunk_host="evil\n[anonymous]"))


def test_desk_phones_render_in_agents_context() -> None:
    pjsip = _render(phones=[DeskPhone("2001", "longpassword1", "Ann")])["pjsip.conf"]
    assert _sections(pjsip).count("2001") == 3
    assert "context = agents" in pjsip
    assert "password = longpassword1" in pjsip


@pytest.mark.parametrize(
    "phone",
    [
        DeskPhone("20a1", "longpassword1"),
        DeskPhone("2001", "short"),
        DeskPhone("2001", "a;b c d e f"),
    ],
)
def test_bad_desk_phones_are_refused(phone: DeskPhone) -> None:
    with pytest.raises(RenderError):
        _render(phones=[phone])


def test_dialplan_sends_calls_to_stasis_with_fallbacks() -> None:
    ext = _render(_settings(stasis_app="cc-test"))["extensions.conf"]
    assert "STASIS_APP = cc-test" in ext
    assert "Stasis(${STASIS_APP},inbound,${EXTEN})" in ext
    assert "Stasis(${STASIS_APP},internal,${EXTEN})" in ext
    for context in ("inbound", "agents", "callcenter-failsafe", "carrier-sim-caller"):
        assert context in _sections(ext)
    assert "SendDTMF(${CALLER_DTMF},250,150)" in ext
    assert "exten => 199,1,Answer()" in ext
    assert '"${STASISSTATUS}" = "FAILED"' in ext


def test_required_modules_are_not_disabled() -> None:
    noload = set(NOLOAD_MODULES)
    for module in (
        "res_ari", "res_pjsip", "res_stasis", "app_queue", "app_chanspy", "app_mixmonitor",
        "app_confbridge", "chan_audiosocket", "res_http_websocket", "codec_ulaw", "format_wav",
    ):  # fmt: skip
        assert module not in noload
    assert "autoload = yes" in _render()["modules.conf"]
