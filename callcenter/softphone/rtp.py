"""Plain RTP over UDP, enough for Asterisk's externalMedia channels (G.711 u-law, 20 ms).

Asterisk sends the call's audio to our socket as RTP; we send the agent's audio back to
the address Asterisk gave the channel. No RTCP, no jitter buffer: this is loopback (or a
LAN) between two programs, and Asterisk plays out what it gets.
"""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import Callable
from typing import cast

PCMU = 0  # static payload type of G.711 u-law
SAMPLES_PER_PACKET = 160  # 20 ms at 8 kHz
_HEADER = struct.Struct("!BBHII")


def parse_payload(packet: bytes) -> bytes | None:
    """The payload of an RTP packet (CSRCs, extension and padding skipped); None if not RTP."""
    if len(packet) < 12 or packet[0] >> 6 != 2:
        return None
    first = packet[0]
    start = 12 + 4 * (first & 0x0F)
    if first & 0x10:  # header extension: 4 bytes, then its length in words
        if len(packet) < start + 4:
            return None
        start += 4 + 4 * int.from_bytes(packet[start + 2 : start + 4], "big")
    end = len(packet) - (packet[-1] if first & 0x20 else 0)
    return packet[start:end] if start <= end else None


class RtpEndpoint(asyncio.DatagramProtocol):
    """One UDP socket: RTP payloads from Asterisk in (`on_payload`), ours out (`send`)."""

    def __init__(self, on_payload: Callable[[bytes], None]) -> None:
        self.on_payload = on_payload
        self.remote: tuple[str, int] | None = None  # Asterisk's side, once known
        self.transport: asyncio.DatagramTransport | None = None
        self._ssrc = int.from_bytes(os.urandom(4), "big")
        self._seq = int.from_bytes(os.urandom(2), "big")
        self._timestamp = int.from_bytes(os.urandom(4), "big")
        self.received = 0
        self.sent = 0

    @classmethod
    async def open(cls, host: str, on_payload: Callable[[bytes], None]) -> RtpEndpoint:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(
            lambda: cls(on_payload), local_addr=(host, 0)
        )
        return protocol

    @property
    def local_address(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport is no subclass of asyncio's, though it behaves as one.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        payload = parse_payload(data)
        if payload:
            self.received += 1
            self.on_payload(payload)

    def send(self, payload: bytes) -> None:
        """Send one packet's worth of u-law (160 bytes for 20 ms) to Asterisk."""
        if self.transport is None or self.remote is None:
            return
        header = _HEADER.pack(0x80, PCMU, self._seq, self._timestamp, self._ssrc)
        self.transport.sendto(header + payload, self.remote)
        self._seq = (self._seq + 1) & 0xFFFF
        self._timestamp = (self._timestamp + len(payload)) & 0xFFFFFFFF
        self.sent += 1

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
