"""Turn asterisk-conf/*.j2 and the Settings into one Asterisk instance's config files.

Rendering is a pure function (`render_config`) so unit tests can check the output
without an Asterisk; `write_config` is the only part that touches disk, and it only
writes into the instance's own etc directory.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

from callcenter.config import Settings

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent.parent.parent / "asterisk-conf"

# Channel drivers, databases and back-ends the contact center never configures. Loading
# them costs boot time and fills the log with "no config" warnings. The anonymous
# identifier stays out so no unauthenticated caller can ever reach a context.
NOLOAD_MODULES: tuple[str, ...] = (
    # Native RTP bridging hands packets from one call leg's RTP straight to the other's,
    # around the core: here it left callers hearing silence in a share of bridged calls
    # (ARI bridges and dialplan Dial alike), and recording or listening in needs the
    # audio in the core anyway.
    "bridge_native_rtp",
    "chan_iax2",
    "chan_motif",
    "chan_unistim",
    "chan_console",
    "res_xmpp",
    "res_pjsip_endpoint_identifier_anonymous",
    "app_voicemail",
    "app_voicemail_odbc",
    "app_minivm",
    "app_festival",
    "app_jack",
    "app_sms",
    "app_sla",
    "app_alarmreceiver",
    "app_adsiprog",
    "app_getcpeid",
    "res_adsi",
    "app_mp3",
    "pbx_ael",
    "pbx_lua",
    "pbx_dundi",
    "pbx_realtime",
    "pbx_spool",
    "res_ael_share",
    "res_config_curl",
    "res_config_ldap",
    "res_config_odbc",
    "res_config_pgsql",
    "res_config_sqlite3",
    "res_odbc",
    "res_odbc_transaction",
    "func_odbc",
    "res_calendar",
    "res_calendar_caldav",
    "res_calendar_ews",
    "res_calendar_exchange",
    "res_calendar_icalendar",
    "res_phoneprov",
    "res_pjsip_phoneprov_provider",
    "res_snmp",
    "res_smdi",
    "res_hep",
    "res_hep_pjsip",
    "res_hep_rtcp",
    "res_statsd",
    "res_prometheus",
    "res_fax",
    "res_fax_spandsp",
    "res_pjsip_t38",
    "res_stir_shaken",
    "res_pjsip_stir_shaken",
    "res_geolocation",
    "res_pjsip_geolocation",
    "res_aeap",
    "res_speech_aeap",
    "res_resolver_unbound",
    "res_stun_monitor",
    "cdr_adaptive_odbc",
    "cdr_odbc",
    "cdr_pgsql",
    "cdr_radius",
    "cdr_sqlite3_custom",
    "cdr_tds",
    "cdr_custom",
    "cdr_csv",
    "cel_custom",
    "cdr_manager",
    "cel_manager",
    "app_agent_pool",
    "app_followme",
    "res_pjsip_config_wizard",
    "cel_odbc",
    "cel_pgsql",
    "cel_radius",
    "cel_sqlite3_custom",
    "cel_tds",
    "res_cdrel_custom",
)

# Values land inside an INI-style file: a newline, ';' or '[' would let a password or a
# host name inject config sections, so only plain tokens are accepted.
_EXTENSION = re.compile(r"^[0-9]{2,15}$")
_TOKEN = re.compile(r"^[A-Za-z0-9._~!$%^*+=@:/_-]{1,128}$")
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$")
_NUMBER = re.compile(r"^\+?[0-9]{1,20}$")


class RenderError(ValueError):
    """A value that cannot be written safely into Asterisk's config files."""


@dataclass(frozen=True)
class DeskPhone:
    """An agent's SIP phone: registers as `extension` with `password`, dials via `agents`."""

    extension: str
    password: str
    name: str = ""

    def check(self) -> None:
        """Refuse values that could break or inject into pjsip.conf."""
        if not _EXTENSION.match(self.extension):
            raise RenderError(f"desk phone extension {self.extension!r}: use 2-15 digits")
        if not _TOKEN.match(self.password) or len(self.password) < 8:
            raise RenderError(
                f"desk phone {self.extension}: password needs 8+ characters, no spaces, "
                "';', '#', quotes or brackets"
            )
        if not re.match(r"^[\w .'-]{0,64}$", self.name):
            raise RenderError(f"desk phone {self.extension}: name {self.name!r} not allowed")


@dataclass(frozen=True)
class InstanceDirs:
    """Where the instance lives as Asterisk sees it (inside the chroot when there is one)."""

    tree: str
    moddir: str
    datadir: str
    run_user: str | None = None


@dataclass(frozen=True)
class Trunk:
    """A real carrier's SIP trunk, validated from the trunk_* settings."""

    host: str
    port: int
    username: str
    password: str
    numbers: tuple[str, ...]


def trunk_from_settings(settings: Settings) -> Trunk | None:
    """The trunk to render, or None when no carrier is configured (the default)."""
    if not settings.trunk_host:
        return None
    if not _HOST.match(settings.trunk_host):
        raise RenderError(f"CALLCENTER_TRUNK_HOST {settings.trunk_host!r} is not a host name")
    password = settings.trunk_password.get_secret_value() if settings.trunk_password else ""
    if settings.trunk_username and not _TOKEN.match(settings.trunk_username):
        raise RenderError("CALLCENTER_TRUNK_USERNAME has characters pjsip.conf cannot hold")
    if settings.trunk_username and not _TOKEN.match(password):
        raise RenderError("CALLCENTER_TRUNK_PASSWORD is empty or has characters not allowed")
    numbers = tuple(n.strip() for n in settings.trunk_numbers.split(",") if n.strip())
    for number in numbers:
        if not _NUMBER.match(number):
            raise RenderError(f"CALLCENTER_TRUNK_NUMBERS: {number!r} is not a phone number")
    return Trunk(
        host=settings.trunk_host,
        port=settings.trunk_port,
        username=settings.trunk_username,
        password=password,
        numbers=numbers,
    )


def _environment(template_dir: Path) -> jinja2.Environment:
    # StrictUndefined: a typo in a template must fail the render, not write an empty value.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_config(
    settings: Settings,
    dirs: InstanceDirs,
    *,
    ari_password: str,
    ami_password: str,
    desk_phones: Sequence[DeskPhone] = (),
    template_dir: Path = TEMPLATE_DIR,
) -> dict[str, str]:
    """Render every template: file name (without .j2) -> content. Touches no file."""
    for phone in desk_phones:
        phone.check()
    extensions = [p.extension for p in desk_phones]
    if len(set(extensions)) != len(extensions):
        raise RenderError(f"duplicate desk phone extensions in {extensions}")
    for name, secret in (("ARI", ari_password), ("AMI", ami_password)):
        if not _TOKEN.match(secret):
            raise RenderError(f"the {name} password has characters the config cannot hold")
    context: Mapping[str, object] = {
        "settings": settings,
        "tree": dirs.tree,
        "moddir": dirs.moddir,
        "datadir": dirs.datadir,
        "run_user": dirs.run_user,
        "noload": NOLOAD_MODULES,
        "ari_password": ari_password,
        "ami_password": ami_password,
        "desk_phones": list(desk_phones),
        "trunk": trunk_from_settings(settings),
    }
    env = _environment(template_dir)
    files: dict[str, str] = {}
    for template_name in sorted(env.list_templates(extensions=["j2"])):
        files[template_name.removesuffix(".j2")] = env.get_template(template_name).render(context)
    return files


def write_config(files: Mapping[str, str], etc_dir: Path, *, owner: tuple[int, int] | None) -> None:
    """Write the rendered files into the instance's etc dir, readable only by Asterisk.

    Each file is written to a temporary name and renamed, so a reload never reads a
    half-written file.
    """
    etc_dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        target = etc_dir / name
        tmp = etc_dir / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        if owner is not None:
            os.chown(tmp, *owner)
        tmp.replace(target)
    log.debug("wrote %d config files to %s", len(files), etc_dir)
