"""Site-signed visitor identities: the HMAC, the sites setting, the age limit."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from callcenter.chat.identity import IdentityRefused, SignedIdentity, parse_sites, sign, verify

SITES = {"shop": "s3cret"}
NOW = 1_764_457_200


def signed(**change: object) -> SignedIdentity:
    values = {"external_id": "u-1", "name": "李雷", "email": "li@example.com", "timestamp": NOW}
    values |= change  # type: ignore[arg-type]
    sig = sign("s3cret", values["external_id"], values["name"], values["email"],  # type: ignore[arg-type]
               values["timestamp"])  # type: ignore[arg-type]  # fmt: skip
    return SignedIdentity(**values, signature=sig)  # type: ignore[arg-type]


def test_the_signature_is_the_documented_hmac():
    text = "u-1\n李雷\nli@example.com\n1764457200".encode()
    expected = hmac.new(b"s3cret", text, hashlib.sha256).hexdigest()
    assert sign("s3cret", "u-1", "李雷", "li@example.com", NOW) == expected


def test_a_good_signature_passes_within_its_age():
    verify(SITES, "shop", signed(), NOW + 100, 3600)
    verify(SITES, "shop", signed(timestamp=NOW + 200), NOW, 3600)  # clocks a little apart


@pytest.mark.parametrize(
    ("site", "identity", "now", "reason"),
    [
        ("shop", SignedIdentity("u-1", "李雷", "li@example.com", NOW, "0" * 64), NOW, "bad"),
        ("blog", signed(), NOW, "does not sign"),
        ("shop", signed(), NOW + 7200, "expired"),
        ("shop", signed(timestamp=NOW + 3600), NOW, "expired"),
        ("shop", signed(external_id=""), NOW, "id"),
    ],
)
def test_refused(site, identity, now, reason):
    with pytest.raises(IdentityRefused, match=reason):
        verify(SITES, site, identity, now, 3600)


def test_a_changed_field_breaks_the_signature():
    forged = signed()
    forged = SignedIdentity("u-2", forged.name, forged.email, forged.timestamp, forged.signature)
    with pytest.raises(IdentityRefused, match="bad signature"):
        verify(SITES, "shop", forged, NOW, 3600)


def test_sites_setting():
    assert parse_sites(" shop = a=b , blog=x,, bad ,=y") == {"shop": "a=b", "blog": "x"}
