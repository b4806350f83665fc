"""A multipart/form-data body read as it streams in, its one file handed to a sink.

Starlette's `request.form()` reads the whole body (spooling files to a temporary file)
before the handler runs, so a 2 GB upload would be received in full just to be refused.
Here python-multipart's push parser is fed the request's chunks as they arrive, the
file part goes straight to the sink (which counts and may refuse), and the first
refusal stops reading: the rest of the request is never received.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

BATCH = 256 * 1024  # bytes handed to the parser's thread at once


class Sink(Protocol):
    def write(self, data: bytes) -> None: ...

    def discard(self) -> None: ...


S = TypeVar("S", bound=Sink)


class FormRefused(ValueError):
    """The body is not the form expected; `status` 415 (not multipart) or 422."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message


@dataclass
class Received(Generic[S]):
    fields: dict[str, str] = field(default_factory=dict)
    file: S | None = None


async def read_form(
    request: Request,
    *,
    file_field: str,
    open_file: Callable[[str], S],
    text_fields: frozenset[str],
    max_text: int,
) -> Received[S]:
    """The form's text fields and its one file (opened with `open_file(filename)`).

    Whatever `open_file` or the sink's `write` raise stops the reading and propagates;
    the sink is discarded on every failure, so nothing stays on disk.
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise FormRefused(415, file_field, "send the file as multipart/form-data")
    reader = _Reader(file_field, open_file, text_fields, max_text)
    parser = MultipartParser(boundary, reader.callbacks())
    try:
        pending = bytearray()
        async for chunk in request.stream():
            pending += chunk
            if len(pending) >= BATCH:
                # Parsing, hashing and writing to disk off the event loop.
                await asyncio.to_thread(parser.write, bytes(pending))
                pending.clear()
        if pending:
            await asyncio.to_thread(parser.write, bytes(pending))
        parser.finalize()
        reader.check_complete()
    except MultipartParseError as exc:
        await reader.discard()
        raise FormRefused(422, file_field, f"not a well-formed multipart body: {exc}") from None
    except BaseException:
        await reader.discard()
        raise
    return reader.got


class _Reader(Generic[S]):
    """python-multipart's callbacks: headers gathered per part, then the part's data to
    the sink (the file) or to a bounded buffer (a text field)."""

    def __init__(
        self,
        file_field: str,
        open_file: Callable[[str], S],
        text_fields: frozenset[str],
        max_text: int,
    ) -> None:
        self.file_field = file_field
        self.open_file = open_file
        self.text_fields = text_fields
        self.max_text = max_text
        self.got: Received[S] = Received()
        self.ended = True
        self._start_part()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._start_part,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end_part,
        }

    def _start_part(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.name = ""
        self.text = bytearray()
        self.sink: S | None = None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def _header_end(self) -> None:
        self.headers[bytes(self.header_name).lower()] = bytes(self.header_value)
        self.header_name, self.header_value = bytearray(), bytearray()

    def _headers_finished(self) -> None:
        self.ended = False
        _, disposition = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        if name == self.file_field and filename is not None:
            if self.got.file is not None:
                raise FormRefused(422, self.file_field, "one file per upload")
            self.got.file = self.sink = self.open_file(filename.decode("utf-8", "replace"))
        elif name in self.text_fields and filename is None:
            self.name = name
        else:
            raise FormRefused(422, name or "body", f"unexpected form field {name!r}")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self.sink is not None:
            self.sink.write(data[start:end])
            return
        self.text += data[start:end]
        if len(self.text) > self.max_text:
            raise FormRefused(422, self.name, f"at most {self.max_text} bytes")

    def _end_part(self) -> None:
        self.ended = True
        if self.sink is None:
            try:
                self.got.fields[self.name] = self.text.decode("utf-8")
            except UnicodeDecodeError:
                raise FormRefused(422, self.name, "not UTF-8 text") from None

    def check_complete(self) -> None:
        if not self.ended:  # a body cut off inside a part: the file may be truncated
            raise FormRefused(422, self.name or self.file_field, "the form ends inside a part")

    async def discard(self) -> None:
        if self.got.file is not None:
            await asyncio.to_thread(self.got.file.discard)
