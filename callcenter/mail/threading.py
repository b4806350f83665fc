"""Message-IDs: the ones we make, the ones a reply refers to (RFC 5322 §3.6.4).

A client replying sets In-Reply-To to the Message-ID it answers and appends it to
References; a ticket's mails are all stored with their ids, so either header leads a
reply back to its ticket even when the customer replied to the plain sender address.
"""

from __future__ import annotations

import hashlib
import re
from email.message import EmailMessage

from callcenter.signing import Signer

MAX_STORED = 255  # ticket_mails.message_id
_ID = re.compile(r"<([^<>\s]+)>")


def reply_message_id(signer: Signer, domain: str, ticket_id: int, comment_id: int) -> str:
    """One id per comment, the same in every controller process (the unique column then
    lets only one of them mail it), and unguessable without the server's secret: a
    stranger cannot thread into a ticket by guessing the id of a mail they never saw."""
    tag = f"t{ticket_id}.c{comment_id}"
    return f"<{tag}.{signer.base32(tag)}@{domain}>"


def stored_id(message_id: str) -> str:
    """The form kept in the table: as sent, or its hash when too long for the column."""
    value = message_id.strip()
    if len(value) > MAX_STORED:
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    return value


def message_id_of(message: EmailMessage, raw: bytes) -> str:
    """The message's own id, or one derived from its bytes when it has none (then a
    redelivery of the same bytes is still recognised)."""
    found = _ID.findall(str(message.get("Message-ID", "")))
    if found:
        return stored_id(f"<{found[0]}>")
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def referenced_ids(message: EmailMessage) -> list[str]:
    """In-Reply-To first, then References newest first: the nearest mail wins."""
    replied = _ID.findall(str(message.get("In-Reply-To", "")))
    references = _ID.findall(str(message.get("References", "")))[::-1]
    return [stored_id(f"<{i}>") for i in dict.fromkeys(replied + references)][:50]
