"""What a newcomer does from the README: `up`, a simulated call, the API, `down`.

Runs the real commands as subprocesses against a second Asterisk instance on its own
ports, so it neither disturbs the session's test PBX nor a developer's running one.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from callcenter.config import Settings
from callcenter.pbx.sandbox import LocalPbx
from tests.support.cli import clean_env, run_cli
from tests.support.controller import free_port

pytestmark = pytest.mark.asterisk

ADMIN_PASSWORD = "up-test-admin-password"
PORTS = {
    "CALLCENTER_SIP_PORT": "16060",
    "CALLCENTER_CARRIER_SIM_PORT": "16062",
    "CALLCENTER_ARI_PORT": "16088",
    "CALLCENTER_AMI_PORT": "16038",
    "CALLCENTER_RTP_PORT_START": "22000",
    "CALLCENTER_RTP_PORT_END": "22999",
}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("up")
    values = clean_env(
        **PORTS,
        CALLCENTER_DATA_DIR=str(data),
        CALLCENTER_PBX_INSTANCE="uptest",
        CALLCENTER_HTTP_PORT=str(free_port()),
        CALLCENTER_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    yield values
    run_cli(values, "down")
    settings = Settings(_env_file=None, data_dir=data, pbx_instance="uptest")  # type: ignore[call-arg]
    LocalPbx(settings).remove()  # never leave an Asterisk behind, whatever failed


@pytest.fixture(scope="module")
def up(env: dict[str, str]) -> str:
    result = run_cli(env, "up", "--detach")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_up_prints_urls_passwords_and_desk_phones(up: str) -> None:
    assert "/api/docs" in up and "/ws/events" in up
    assert ADMIN_PASSWORD not in up  # configured passwords are not echoed
    agent_line = next(line for line in up.splitlines() if " agent1 / " in line)
    assert len(agent_line.split(" / ")[1].strip()) >= 10  # a generated one is printed
    assert "1001 / " in up and "1002 / " in up


async def test_a_simulated_call_shows_in_the_api_and_on_the_websocket(
    env: dict[str, str], up: str
) -> None:
    base = f"http://127.0.0.1:{env['CALLCENTER_HTTP_PORT']}"
    async with httpx.AsyncClient(base_url=base) as http:
        login = await http.post(
            "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        token = login.json()["access_token"]
        ws_url = base.replace("http", "ws") + f"/ws/events?token={token}"
        async with websockets.connect(ws_url) as ws:
            assert json.loads(await ws.recv())["type"] == "hello"
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "callcenter",
                "call",
                "100",
                "--dtmf",
                "42",
                "--hold",
                "6",
                "--caller",
                "+8613912345678",
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            types: list[str] = []
            digits: list[str] = []
            async with asyncio.timeout(60):
                while "call.ended" not in types:
                    event = json.loads(await ws.recv())
                    types.append(event["type"])
                    if event["type"] == "call.ivr.input":
                        digits.append(event["data"]["event"]["data"]["digits"])
            out, err = await proc.communicate()
        assert proc.returncode == 0, out.decode() + err.decode()
        assert "answered after" in out.decode()
        assert types[:2] == ["call.started", "call.answered"]
        # The shipped main menu (ivr_flows/main.yaml) answers 100: 4 is no option, 2 is.
        assert digits[:2] == ["4", "2"]
        assert "call.ivr.node" in types
        headers = {"Authorization": f"Bearer {token}"}
        calls = (await http.get("/api/calls", headers=headers)).json()["items"]
    call = next(c for c in calls if c["caller_number"] == "+8613912345678")
    assert call["dialed_number"] == "100" and call["state"] == "ended"
    assert call["disposition"] == "completed" and call["ended_by"] == "caller"
    assert call["customer_id"] is not None and call["answered_seconds"] > 5
    log = (Path(env["CALLCENTER_DATA_DIR"]) / "callcenter.log").read_text()
    assert "/ws/events" in log and token not in log  # tokens in URLs are redacted


def test_demo_agents_have_desk_phones_and_skills(env: dict[str, str], up: str) -> None:
    base = f"http://127.0.0.1:{env['CALLCENTER_HTTP_PORT']}"
    login = httpx.post(f"{base}/api/auth/login",
                       json={"username": "admin", "password": ADMIN_PASSWORD})  # fmt: skip
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    agents = {a["username"]: a for a in httpx.get(f"{base}/api/agents", headers=headers).json()}
    assert agents["agent1"]["extension"] == "1001" and agents["agent1"]["skills"]["sales"] > 0
    assert agents["agent2"]["extension"] == "1002" and agents["agent2"]["skills"]["zh"] > 0


def test_down_stops_everything(env: dict[str, str], up: str) -> None:
    result = run_cli(env, "down")
    assert result.returncode == 0, result.stderr
    data = Path(env["CALLCENTER_DATA_DIR"])
    settings = Settings(_env_file=None, data_dir=data, pbx_instance="uptest")  # type: ignore[call-arg]
    assert not LocalPbx(settings).is_running()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{env['CALLCENTER_HTTP_PORT']}/api/health", timeout=2)
