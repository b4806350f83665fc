"""Mail settings checked once at start-up: a bad CALLCENTER_SMTP_LISTEN or sender stops
the server with one sentence instead of failing on the first mail."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import parseaddr

from callcenter.config import Settings, SettingsError

DEFAULT_GROUP = "support"


@dataclass(frozen=True)
class MailConfig:
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    sender: str = ""  # the From header, e.g. "Support <support@example.com>"
    sender_address: str = ""  # its address alone, lowercase
    domains: tuple[str, ...] = ()  # the domains our receiver accepts mail for
    listen: tuple[str, int] | None = None
    # recipient address (lowercase) -> ticket group name; "*" for the rest
    groups: dict[str, str] = field(default_factory=dict)
    max_bytes: int = 10_000_000
    public_url: str = "http://127.0.0.1:8080"
    secret: str = field(default="", repr=False)

    @property
    def sending(self) -> bool:
        """Outbound mail is on: a smarthost and a sender are set."""
        return bool(self.smtp_host and self.sender_address)

    @property
    def domain(self) -> str:
        return self.sender_address.rpartition("@")[2] or (self.domains[0] if self.domains else "")

    def group_for(self, recipients: list[str]) -> str:
        """The group a new mail's ticket goes to: the first recipient with a mapping."""
        for address in recipients:
            if name := self.groups.get(address.lower()):
                return name
        return self.groups.get("*", DEFAULT_GROUP)

    @classmethod
    def from_settings(cls, settings: Settings) -> MailConfig:
        sender_address = ""
        if settings.smtp_from:
            sender_address = parseaddr(settings.smtp_from)[1].lower()
            if "@" not in sender_address:
                raise SettingsError(
                    "CALLCENTER_SMTP_FROM: not an address; e.g. 'Support <support@example.com>'"
                )
        domains = tuple(d.strip().lower() for d in settings.mail_domains.split(",") if d.strip())
        if not domains and sender_address:
            domains = (sender_address.rpartition("@")[2],)
        listen = _listen(settings.smtp_listen)
        if listen is not None and not domains:
            raise SettingsError(
                "CALLCENTER_SMTP_LISTEN is set but no domain is: set CALLCENTER_MAIL_DOMAINS "
                "or CALLCENTER_SMTP_FROM, or the receiver would accept mail for anyone"
            )
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
        return cls(
            smtp_host=settings.smtp_host,
            smtp_port=settings.smtp_port,
            smtp_username=settings.smtp_username,
            smtp_password=password,
            smtp_starttls=settings.smtp_starttls,
            sender=settings.smtp_from,
            sender_address=sender_address,
            domains=domains,
            listen=listen,
            groups=_groups(settings.mail_groups),
            max_bytes=settings.mail_max_bytes,
            public_url=(settings.public_url or settings.http_url).rstrip("/"),
            secret=settings.secret_key.get_secret_value(),
        )


def _listen(raw: str) -> tuple[str, int] | None:
    if not raw.strip():
        return None
    host, _, port = raw.strip().rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"CALLCENTER_SMTP_LISTEN: {raw!r} is not host:port, e.g. 0.0.0.0:25")
    return host.strip("[]"), int(port)


def _groups(raw: str) -> dict[str, str]:
    groups: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        address, sep, group = pair.partition("=")
        if not sep or not address.strip() or not group.strip():
            raise SettingsError(
                f"CALLCENTER_MAIL_GROUPS: {pair!r} is not address=group "
                "(e.g. billing@example.com=billing,*=support)"
            )
        groups[address.strip().lower()] = group.strip()
    return groups
