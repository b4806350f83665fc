"""RTP payload extraction for the softphone's media legs (pure logic)."""

from __future__ import annotations

import struct

from callcenter.softphone.rtp import parse_payload


def _header(first: int = 0x80, payload_type: int = 0) -> bytes:
    return struct.pack("!BBHII", first, payload_type, 1, 160, 0x1234)


def test_a_plain_packet_gives_its_payload():
    assert parse_payload(_header() + b"\xff" * 160) == b"\xff" * 160


def test_csrcs_extension_and_padding_are_skipped():
    csrc = b"\x00\x00\x00\x01"
    extension = b"\xbe\xde\x00\x01" + b"\x00" * 4
    padding = b"\x00\x00\x03"
    packet = _header(0x80 | 0x20 | 0x10 | 1) + csrc + extension + b"audio" + padding
    assert parse_payload(packet) == b"audio"


def test_what_is_not_rtp_is_refused():
    assert parse_payload(b"") is None
    assert parse_payload(b"\x00" * 20) is None  # version 0
    assert parse_payload(_header(0x90)[:12] + b"\xbe") is None  # extension cut short
