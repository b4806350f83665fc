"""Which files a ticket accepts: a kind per file extension, checked against the content.

The client's Content-Type is not trusted (a browser sends whatever the OS guesses, an
attacker whatever they like): a file is accepted when its extension is on the allow-list
(setting CALLCENTER_ATTACHMENT_TYPES) and its bytes are what that extension promises
(magic numbers for binary formats, the archive's entries for Office files, decodable
text without NUL bytes for text). The stored content type comes from the kind.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HEAD_BYTES = 4096  # what the magic-number checks look at


def _png(head: bytes, _: Path) -> bool:
    return head.startswith(b"\x89PNG\r\n\x1a\n")


def _jpeg(head: bytes, _: Path) -> bool:
    return head.startswith(b"\xff\xd8\xff")


def _gif(head: bytes, _: Path) -> bool:
    return head[:6] in (b"GIF87a", b"GIF89a")


def _webp(head: bytes, _: Path) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _pdf(head: bytes, _: Path) -> bool:
    return head.startswith(b"%PDF-")


def _wav(head: bytes, _: Path) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WAVE"


def _mp3(head: bytes, _: Path) -> bool:
    # An ID3v2 tag, or straight into an MPEG audio frame (11 sync bits set).
    return head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


def _zip_entries(head: bytes, path: Path) -> list[str] | None:
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return None


def _zip(head: bytes, path: Path) -> bool:
    return _zip_entries(head, path) is not None


def _docx(head: bytes, path: Path) -> bool:
    return "word/document.xml" in (_zip_entries(head, path) or [])


def _xlsx(head: bytes, path: Path) -> bool:
    return "xl/workbook.xml" in (_zip_entries(head, path) or [])


def _any_text(head: bytes, _: Path) -> bool:
    return True  # TextCheck did the work while the file streamed in


_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")  # RFC 5322 field name, then a colon


def _eml(head: bytes, _: Path) -> bool:
    return bool(_HEADER_LINE.match(head.removeprefix(b"\xef\xbb\xbf")))


@dataclass(frozen=True)
class Kind:
    extension: str
    content_type: str
    description: str
    matches: Callable[[bytes, Path], bool]
    text: bool = False


_OOXML = "application/vnd.openxmlformats-officedocument"
KINDS: dict[str, Kind] = {
    k.extension: k
    for k in (
        Kind("png", "image/png", "a PNG image", _png),
        Kind("jpg", "image/jpeg", "a JPEG image", _jpeg),
        Kind("jpeg", "image/jpeg", "a JPEG image", _jpeg),
        Kind("gif", "image/gif", "a GIF image", _gif),
        Kind("webp", "image/webp", "a WebP image", _webp),
        Kind("pdf", "application/pdf", "a PDF document", _pdf),
        Kind("txt", "text/plain", "UTF-8 or GB18030 text", _any_text, text=True),
        Kind("csv", "text/csv", "UTF-8 or GB18030 text", _any_text, text=True),
        Kind("docx", f"{_OOXML}.wordprocessingml.document", "a Word document", _docx),
        Kind("xlsx", f"{_OOXML}.spreadsheetml.sheet", "an Excel workbook", _xlsx),
        Kind("wav", "audio/wav", "a WAV recording", _wav),
        Kind("mp3", "audio/mpeg", "an MP3 recording", _mp3),
        Kind("eml", "message/rfc822", "an email message", _eml, text=True),
        Kind("zip", "application/zip", "a ZIP archive", _zip),
    )
}
DEFAULT_TYPES = ",".join(KINDS)


def parse_allowed(setting: str) -> tuple[str, ...]:
    """The extensions of CALLCENTER_ATTACHMENT_TYPES; ValueError naming an unknown one."""
    names = [n.strip().lower().lstrip(".") for n in setting.split(",") if n.strip()]
    if unknown := [n for n in names if n not in KINDS]:
        raise ValueError(f"unknown file type {', '.join(unknown)}; known: {', '.join(KINDS)}")
    return tuple(dict.fromkeys(names))


class TextCheck:
    """Fed the file chunk by chunk: still plausible text? UTF-8 (a BOM allowed) or
    GB18030 (what Chinese Excel saves CSV as), and never a NUL byte."""

    def __init__(self) -> None:
        self._decoders = [codecs.getincrementaldecoder(c)() for c in ("utf-8-sig", "gb18030")]
        self.ok = True

    def feed(self, data: bytes, *, final: bool = False) -> None:
        if not self.ok:
            return
        if b"\x00" in data:
            self.ok = False
            return
        alive = []
        for decoder in self._decoders:
            try:
                decoder.decode(data, final)
            except UnicodeDecodeError:
                continue
            alive.append(decoder)
        self._decoders = alive
        self.ok = bool(alive)
