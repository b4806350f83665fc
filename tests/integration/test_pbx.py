"""The local PBX for real: boot, ARI, AMI, calls through the carrier simulator, a desk phone."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from callcenter.config import Settings
from callcenter.pbx.carrier import AmiLink, place_call
from callcenter.pbx.render import DeskPhone
from callcenter.pbx.sandbox import LocalPbx, PbxError
from tests.integration.sip import Baresip, free_port, make_wav

pytestmark = pytest.mark.asterisk


def test_boots_and_reports_status(asterisk: LocalPbx) -> None:
    status = asterisk.status()
    assert status.running
    assert status.version.startswith("Asterisk ")
    assert "15060" in status.ports["sip"]
    assert asterisk.start() is False  # idempotent: already running


def test_cli_runs_in_the_instance(asterisk: LocalPbx) -> None:
    out = asterisk.cli("pjsip show endpoints")
    assert "carrier-sim" in out and "carrier-in" in out and "2001" in out
    assert "anonymous" not in out


async def test_ari_answers_with_generated_credentials(asterisk: LocalPbx) -> None:
    async with httpx.AsyncClient(base_url=asterisk.ari_url, timeout=5) as client:
        ok = await client.get("/ari/asterisk/info", auth=asterisk.ari_credentials)
        bad = await client.get("/ari/asterisk/info", auth=(asterisk.ari_credentials[0], "nope"))
    assert ok.status_code == 200
    assert "system" in ok.json()
    assert bad.status_code == 401


async def test_ami_login(asterisk: LocalPbx) -> None:
    user, secret = asterisk.ami_credentials
    link = await AmiLink.connect(asterisk.settings.ami_port, user, secret)
    await link.close()
    with pytest.raises(PbxError, match="login refused"):
        await AmiLink.connect(asterisk.settings.ami_port, user, "wrong")


async def test_carrier_sim_reaches_the_dialplan_benchmark(asterisk: LocalPbx) -> None:
    report = await place_call(asterisk.settings, "199", hold=0.5)
    assert report.answered, report.failure
    assert report.inbound_channel.startswith("PJSIP/carrier-in-")
    assert report.hung_up_by == "caller"
    assert report.cause == 16


async def test_carrier_sim_dtmf_arrives(asterisk: LocalPbx) -> None:
    report = await place_call(asterisk.settings, "198", dtmf="4711#", hold=5)
    assert report.dtmf_received == "4711#"
    assert {"UserEvent": "CallcenterDigits", "Digits": "4711"} in report.user_events
    assert report.hung_up_by == "pbx"  # Read() ended on '#', the dialplan hung up


async def test_carrier_sim_plays_caller_audio(asterisk: LocalPbx, tmp_path: Path) -> None:
    wav = tmp_path / "hello.wav"
    proc = await asyncio.create_subprocess_exec(
        "sox", "-n", "-r", "16000", "-c", "2", str(wav), "synth", "0.5", "sine", "300"
    )
    await proc.wait()
    report = await place_call(asterisk.settings, "199", audio=wav, hold=0.2)
    assert report.answered and report.hung_up_by == "caller"
    # The caller played ~0.5 s of audio before holding.
    assert report.duration_s is not None and report.duration_s >= 1.0


async def test_without_controller_caller_hears_apology(asterisk: LocalPbx) -> None:
    # No Stasis app is registered: the dialplan answers, apologises and hangs up.
    report = await place_call(asterisk.settings, "5550123", hold=15)
    assert report.answered
    assert report.hung_up_by == "pbx"


async def test_desk_phone_registers_dials_and_sends_dtmf(
    asterisk: LocalPbx, desk_phone: DeskPhone, tmp_path: Path
) -> None:
    user, secret = asterisk.ami_credentials
    ami = await AmiLink.connect(asterisk.settings.ami_port, user, secret)
    phone = Baresip(
        tmp_path / "baresip",
        user=desk_phone.extension,
        password=desk_phone.password,
        registrar=f"127.0.0.1:{asterisk.settings.sip_port}",
        audio=await make_wav(tmp_path / "tone.wav"),
    )
    try:
        await phone.start()
        await _wait_registered(asterisk, desk_phone.extension)
        await phone.dial("198")
        await phone.wait_event("CALL_ESTABLISHED")
        await asyncio.sleep(0.3)
        await phone.send_dtmf("31#")
        digits = await asyncio.wait_for(_user_event_digits(ami, desk_phone.extension), 10)
        await phone.wait_event("CALL_CLOSED")
    finally:
        await phone.stop()
        await ami.close()
    assert digits == "31"


async def _wait_registered(pbx: LocalPbx, extension: str) -> None:
    for _ in range(50):
        if f"{extension}/sip:" in await asyncio.to_thread(pbx.cli, "pjsip show contacts"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"desk phone {extension} did not register")


async def _user_event_digits(ami: AmiLink, extension: str) -> str:
    while True:
        event = await ami.read()
        if event.get("UserEvent") == "CallcenterDigits" and event.get("Channel", "").startswith(
            f"PJSIP/{extension}-"
        ):
            return event.get("Digits", "")


def test_unknown_sip_peer_gets_nothing(asterisk: LocalPbx) -> None:
    """A scanner's INVITE from an unidentified source is challenged, no channel is made."""
    port = asterisk.settings.sip_port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        local = sock.getsockname()[1]
        sock.settimeout(3)
        sock.sendto(_invite(port, local).encode(), ("127.0.0.1", port))
        codes = []
        with contextlib.suppress(TimeoutError):
            while True:
                reply = sock.recv(4096).decode(errors="replace")
                codes.append(int(reply.split()[1]))
                if codes[-1] >= 200:
                    break
    assert codes and codes[-1] in (401, 403, 407)
    assert "0 active channels" in asterisk.cli("core show channels count")


def _invite(port: int, local: int) -> str:
    return (
        f"INVITE sip:100@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-scan1;rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:scanner@127.0.0.1:{local}>;tag=abc\r\n"
        f"To: <sip:100@127.0.0.1:{port}>\r\n"
        "Call-ID: scan-1@127.0.0.1\r\n"
        "CSeq: 1 INVITE\r\n"
        f"Contact: <sip:scanner@127.0.0.1:{local}>\r\n"
        "Content-Length: 0\r\n\r\n"
    )


def test_media_is_synced_into_the_instance(asterisk: LocalPbx) -> None:
    path = asterisk.asterisk_media_path("moh/default.wav")
    assert path.endswith("/media/moh/default")
    host, _ = asterisk.instance_file("media/moh/default.wav")
    assert host.is_file()
    with pytest.raises(PbxError):
        asterisk.asterisk_media_path("../etc/ari.conf")


def test_port_conflict_names_the_port(
    asterisk: LocalPbx, tmp_path: Path, make_pbx_settings: Callable[..., Settings]
) -> None:
    # Same SIP port as the running test instance, everything else free.
    other = LocalPbx(
        make_pbx_settings(
            tmp_path,
            pbx_instance="clash",
            carrier_sim_port=free_port(socket.SOCK_DGRAM),
            ari_port=free_port(),
            ami_port=free_port(),
        )
    )
    with pytest.raises(PbxError, match=r"15060.*CALLCENTER_SIP_PORT"):
        other.start()
    assert not other.is_running()
    assert other.stop() is False  # idempotent on a stopped instance


def test_secrets_are_private_and_reused(asterisk: LocalPbx) -> None:
    path = asterisk.pbx_dir / "secrets.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert LocalPbx(asterisk.settings).ari_credentials == asterisk.ari_credentials


def _no_system_asterisk(monkeypatch: pytest.MonkeyPatch, mmdebstrap: str | None) -> None:
    import callcenter.pbx.sandbox as sandbox

    def which(name: str) -> str | None:
        return mmdebstrap if name == "mmdebstrap" else None

    monkeypatch.setattr(sandbox.shutil, "which", which)
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 0)


def test_install_without_mmdebstrap_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make_pbx_settings: Callable[..., Settings]
) -> None:
    _no_system_asterisk(monkeypatch, None)
    pbx = LocalPbx(make_pbx_settings(tmp_path, pbx_root=tmp_path / "root"))
    with pytest.raises(PbxError, match="apt-get install mmdebstrap"):
        pbx.install()


def test_failed_build_leaves_nothing_behind(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make_pbx_settings: Callable[..., Settings]
) -> None:
    import callcenter.pbx.sandbox as sandbox

    _no_system_asterisk(monkeypatch, "/usr/bin/mmdebstrap")
    # Stands in for mmdebstrap: creates part of the root, then fails.
    monkeypatch.setattr(sandbox, "MMDEBSTRAP_COMMAND", ("sh", "-c", 'mkdir -p "$0/usr"; exit 3'))
    root = tmp_path / "cache" / "asterisk-root"
    pbx = LocalPbx(make_pbx_settings(tmp_path, pbx_root=root))
    with pytest.raises(PbxError, match="failed"):
        pbx.install()
    assert list((tmp_path / "cache").iterdir()) == []


def test_building_the_root_without_root_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make_pbx_settings: Callable[..., Settings]
) -> None:
    _no_system_asterisk(monkeypatch, "/usr/bin/mmdebstrap")
    import callcenter.pbx.sandbox as sandbox

    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    pbx = LocalPbx(make_pbx_settings(tmp_path, pbx_root=tmp_path / "root"))
    with pytest.raises(PbxError, match="sudo callcenter pbx install"):
        pbx.install()
    assert not (tmp_path / "root").exists()


def test_asterisk_that_does_not_boot_in_time_is_stopped_and_explained(
    asterisk: LocalPbx, tmp_path: Path, make_pbx_settings: Callable[..., Settings]
) -> None:
    # The real Asterisk, given no time to boot: the same path as one that hangs or dies.
    ports = {"sip_port": 17060, "carrier_sim_port": 17062, "ari_port": 17088, "ami_port": 17038}
    settings = make_pbx_settings(tmp_path, pbx_instance="slow", pbx_boot_timeout=0.001, **ports)
    pbx = LocalPbx(settings)
    with pytest.raises(PbxError, match=r"did not finish booting .*CALLCENTER_PBX_BOOT_TIMEOUT"):
        pbx.start()
    assert not pbx.is_running()  # nothing half-started is left behind
    pbx.remove()
