"""The text of a customer's mail: text/plain preferred, HTML reduced to its text, and for
a reply only what they wrote above the quoted conversation."""

from __future__ import annotations

import re
from email.message import EmailMessage
from html.parser import HTMLParser

# Written at the top of every mail we send: the client quotes it below the customer's
# answer, so cutting there keeps the answer and drops the quote (as helpdesks do).
REPLY_MARKER = "##- Please type your reply above this line -##"
_ATTRIBUTION = re.compile(r"^(On .+ wrote:|.{0,80}(写道|wrote)[:：])\s*$")
_BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote", "table"}


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    lines = (re.sub(r"[ \t\r\f\v\xa0]+", " ", line).strip() for line in "".join(parser.parts)
             .splitlines())  # fmt: skip
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, UnicodeError):  # an unknown or lying charset
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_type() == "text/html":
        return html_to_text(content)
    return content.replace("\r\n", "\n").strip()


def reply_text(text: str) -> str:
    """What the customer wrote above our marker, without the client's "On … wrote:"
    line and the quoted lines that follow it."""
    if REPLY_MARKER in text:
        text = text.split(REPLY_MARKER, 1)[0]
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if _ATTRIBUTION.match(line.strip()) and all(
            not rest.strip() or rest.lstrip().startswith(">") for rest in lines[i + 1 :]
        ):
            lines = lines[:i]
            break
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith(">")):
        lines.pop()
    return "\n".join(lines).strip()
