"""The real Asterisk for integration tests, on its own ports and data dir.

The `asterisk` fixture can run beside a developer's instance (default ports 5060/5062/
8088/5038): it uses the ports below and a temporary pbx_dir, hence its own instance tree.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator

import pytest

from callcenter.config import Settings
from callcenter.pbx.render import DeskPhone
from callcenter.pbx.sandbox import LocalPbx, PbxError

TEST_PORTS = {
    "sip_port": 15060,
    "carrier_sim_port": 15062,
    "ari_port": 18088,
    "ami_port": 15038,
    "rtp_port_start": 21000,
    "rtp_port_end": 21999,
    "http_port": 18080,
}
# The carrier trunk goes to a "far end" on its own loopback address (a baresip that takes
# any number, tests/integration/sip.py): calls out and transfers to numbers reach it.
TEST_TRUNK = {"trunk_host": "127.0.0.5", "trunk_port": 15064}


def pbx_test_settings(data_dir: object, **overrides: object) -> Settings:
    """Settings for a test instance: no .env, test ports, the given data dir."""
    values: dict[str, object] = {
        "env": "test",
        "data_dir": data_dir,
        "pbx_instance": "test",
        "pbx_boot_timeout": 30.0,
        **TEST_PORTS,
        **TEST_TRUNK,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def make_pbx_settings() -> Callable[..., Settings]:
    """Build other test-instance Settings (e.g. a second instance for a port clash)."""
    return pbx_test_settings


@pytest.fixture(scope="session")
def desk_phones() -> list[DeskPhone]:
    """The agents' desk phones configured in the test Asterisk: 2001, 2002, 2003."""
    return [
        DeskPhone(extension=f"200{n}", password=secrets.token_urlsafe(12), name=f"Agent {n}")
        for n in (1, 2, 3)
    ]


@pytest.fixture(scope="session")
def desk_phone(desk_phones: list[DeskPhone]) -> DeskPhone:
    """Extension 2001, for tests of the phone itself (never registered by agent tests)."""
    return desk_phones[0]


@pytest.fixture(scope="session")
def asterisk(
    tmp_path_factory: pytest.TempPathFactory, desk_phones: list[DeskPhone]
) -> Iterator[LocalPbx]:
    """A running LocalPbx (its Settings at `.settings`), stopped and removed at the end."""
    settings = pbx_test_settings(tmp_path_factory.mktemp("pbx-data"))
    pbx = LocalPbx(settings)
    try:
        pbx.install()
        pbx.start(desk_phones=desk_phones)
    except PbxError as exc:
        with contextlib.suppress(PbxError):
            pbx.remove()
        pytest.fail(f"test Asterisk could not start: {exc}", pytrace=False)
    try:
        yield pbx
    finally:
        # remove() stops Asterisk first: never leave one running after the tests.
        pbx.remove()
