"""Attachment files on disk: data_dir/attachments/<2 hex>/<32 hex>, random names.

An upload streams into attachments/tmp/ while its bytes are counted, hashed and
checked; past the size limit it stops at once (the rest of the request is never read),
and any refusal deletes the partial file. Only a complete, checked file is moved into
place, and the caller deletes it again if the database refuses the row, so a refused
upload leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from callcenter.tickets.attachment_kinds import HEAD_BYTES, KINDS, Kind, TextCheck

MAX_FILENAME = 255


class AttachmentRefused(ValueError):
    """The file is refused: `reason` is too_large, wrong_type or invalid."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class StoredFile:
    storage_name: str
    filename: str
    content_type: str
    size: int
    sha256: str


def clean_filename(raw: str) -> str:
    """The name as shown and offered on download: no directories, no control or
    quoting characters, at most 255 characters with the extension kept."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>:|?*;')
    name = name.strip().lstrip(".")
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        name = stem[: MAX_FILENAME - len(ext) - 1] + dot + ext if dot else name[:MAX_FILENAME]
    return name


class AttachmentStore:
    def __init__(self, root: Path, max_bytes: int, allowed: tuple[str, ...]) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.allowed = allowed

    def path(self, storage_name: str) -> Path:
        if len(storage_name) != 32 or not all(c in "0123456789abcdef" for c in storage_name):
            raise ValueError(f"not a storage name: {storage_name!r}")  # never a path
        return self.root / storage_name[:2] / storage_name

    def open_upload(self, raw_filename: str) -> Upload:
        """Start receiving a file; refused at once when its extension is not allowed."""
        filename = clean_filename(raw_filename)
        _, dot, ext = filename.rpartition(".")
        kind = KINDS.get(ext.lower()) if dot else None
        if not filename or kind is None or kind.extension not in self.allowed:
            shown = f".{ext.lower()}" if dot and ext else "without an extension"
            raise AttachmentRefused(
                "wrong_type",
                f"files {shown} are not accepted; allowed: {', '.join(self.allowed)}",
            )
        return Upload(self, filename, kind)

    def remove(self, storage_name: str) -> None:
        self.path(storage_name).unlink(missing_ok=True)


class Upload:
    """One file streaming in. `write` raises AttachmentRefused past the limit; `finish`
    checks the content and moves the file into place; `discard` always cleans up."""

    def __init__(self, store: AttachmentStore, filename: str, kind: Kind) -> None:
        self.store = store
        self.filename = filename
        self.kind = kind
        self.storage_name = secrets.token_hex(16)
        tmp = store.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        self._tmp = tmp / f"{self.storage_name}.part"
        self._file = self._tmp.open("xb")
        self._hash = hashlib.sha256()
        self._head = b""
        self._text = TextCheck() if kind.text else None
        self.size = 0
        self._final: Path | None = None

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.store.max_bytes:
            raise AttachmentRefused(
                "too_large",
                f"{self.filename} is larger than {human_size(self.store.max_bytes)}",
            )
        if len(self._head) < HEAD_BYTES:
            self._head += data[: HEAD_BYTES - len(self._head)]
        self._hash.update(data)
        if self._text is not None:
            self._text.feed(data)
        self._file.write(data)

    def finish(self) -> StoredFile:
        """The checked file, in its place; AttachmentRefused when it is not what its
        extension says (the caller then discards)."""
        self._file.close()
        if self.size == 0:
            raise AttachmentRefused("invalid", f"{self.filename} is empty")
        if self._text is not None:
            self._text.feed(b"", final=True)
        plausible = self._text.ok if self._text is not None else True
        if not plausible or not self.kind.matches(self._head, self._tmp):
            raise AttachmentRefused("wrong_type", f"{self.filename} is not {self.kind.description}")
        final = self.store.path(self.storage_name)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._tmp, final)
        self._final = final
        return StoredFile(
            self.storage_name, self.filename, self.kind.content_type, self.size,
            self._hash.hexdigest(),
        )  # fmt: skip

    def discard(self) -> None:
        """Remove whatever this upload left on disk (partial or moved into place)."""
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)
        if self._final is not None:
            self._final.unlink(missing_ok=True)


def human_size(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KB"
    return f"{n} bytes"
