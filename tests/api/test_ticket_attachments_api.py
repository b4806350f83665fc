"""Ticket attachments on the real app: upload (multipart, streamed to disk), limits by
size and sniffed type, download with safe headers, visibility, and nothing stored —
no row, no history, no file — when an upload is refused."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from callcenter.clock import FixedClock
from tests.support.app import app_client, bearer

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
USERS = [("sup", "supervisor"), ("amy", "agent"), ("bob", "agent")]
LIMIT = 64 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    """support: amy; billing: bob. One ticket in support (`client.ticket`)."""
    with app_client(tmp_path, USERS, FixedClock(START), attachment_max_bytes=LIMIT) as c:
        sup = bearer(c, "sup")
        for name, member in (("support", "amy"), ("billing", "bob")):
            group = c.post("/api/ticket-groups", json={"name": name}, headers=sup).json()
            c.put(f"/api/ticket-groups/{group['id']}/members",
                  json={"user_ids": [c.ids[member]]}, headers=sup)  # type: ignore[attr-defined]  # fmt: skip
            if name == "support":
                c.group = group["id"]  # type: ignore[attr-defined]
        customer = c.post("/api/customers", json={"name": "Li"}, headers=sup).json()["id"]
        body = {"subject": "Router", "requester_id": customer, "group_id": c.group}  # type: ignore[attr-defined]
        c.ticket = c.post("/api/tickets", json=body, headers=sup).json()["id"]  # type: ignore[attr-defined]
        c.data_dir = tmp_path  # type: ignore[attr-defined]
        yield c


def _upload(client: TestClient, name: str, content: bytes, who: str = "amy",
            ticket: int | None = None, **fields: str) -> Any:  # fmt: skip
    url = f"/api/tickets/{ticket or client.ticket}/attachments"  # type: ignore[attr-defined]
    data = {"public": "false", **fields}
    return client.post(url, data=data, files={"file": (name, content, "application/octet-stream")},
                       headers=bearer(client, who))  # fmt: skip


def _files_on_disk(client: TestClient) -> list[Path]:
    root = client.data_dir / "attachments"  # type: ignore[attr-defined]
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _history(client: TestClient) -> list[dict[str, Any]]:
    url = f"/api/tickets/{client.ticket}/history"  # type: ignore[attr-defined]
    return client.get(url, headers=bearer(client, "sup")).json()["items"]


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def test_an_upload_is_stored_listed_in_the_history_and_downloaded_safely(client):
    r = _upload(client, "../../etc/路由器 <photo>.PNG", PNG)
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["filename"] == "路由器 photo.PNG" and item["content_type"] == "image/png"
    assert item["size"] == len(PNG) and item["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert item["public"] is False and item["comment_id"] is None
    assert item["uploader"] == {"id": client.ids["amy"], "name": "amy"}
    [stored] = _files_on_disk(client)
    assert stored.read_bytes() == PNG and len(stored.name) == 32  # a random name
    assert stored.parent.parent == client.data_dir / "attachments"
    assert _history(client)[-1] == item
    listed = client.get(f"/api/tickets/{client.ticket}/attachments", headers=bearer(client, "amy"))
    assert listed.json()["items"] == [item]
    got = client.get(item["url"], headers=bearer(client, "amy"))
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in got.headers["content-security-policy"]


def test_a_file_with_a_reply_is_public_and_with_a_note_internal(client):
    url = f"/api/tickets/{client.ticket}"
    amy = bearer(client, "amy")
    note = _upload(client, "log.txt", "设备日志\nok\n".encode(), body="see log", public="false")
    assert note.status_code == 201 and note.json()["public"] is False
    assert client.get(url, headers=amy).json()["status"] == "new"  # a note does not open
    reply = _upload(client, "manual.docx", _docx(), body="The manual", public="true")
    assert reply.status_code == 201, reply.text
    assert reply.json()["public"] is True
    assert reply.json()["content_type"].endswith("wordprocessingml.document")
    assert client.get(url, headers=amy).json()["status"] == "open"
    kinds = [(h["kind"], h.get("body") or h.get("filename") or h.get("field")) for h in
             _history(client)]  # fmt: skip
    assert kinds[1:] == [
        ("comment", "see log"), ("attachment", "log.txt"),
        ("comment", "The manual"), ("change", "status"), ("attachment", "manual.docx"),
    ]  # fmt: skip
    assert _history(client)[2]["comment_id"] == _history(client)[1]["id"]
    # GB18030, as a Chinese Excel saves a CSV, is text too.
    assert _upload(client, "客户.csv", "姓名,电话\n李雷,138\n".encode("gb18030")).status_code == 201


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("setup.exe", b"MZ\x90\x00", "files .exe are not accepted"),
        ("README", b"hello", "without an extension"),
        ("photo.png", b"%PDF-1.7\n", "is not a PNG image"),
        ("notes.txt", b"abc\x00def", "is not UTF-8 or GB18030 text"),
        ("report.docx", b"PK\x05\x06" + b"\x00" * 18, "is not a Word document"),
        ("page.pdf", b"<html><script>alert(1)</script>", "is not a PDF document"),
    ],
)
def test_a_wrong_type_is_415_naming_the_file_and_nothing_is_stored(client, name, content, words):
    before = _history(client)
    r = _upload(client, name, content, body="with a comment", public="true")
    assert r.status_code == 415, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", "file"] and words in detail["msg"]
    assert _history(client) == before  # not even the comment
    assert _files_on_disk(client) == []


def test_an_oversized_upload_is_413_and_leaves_nothing(client):
    before = _history(client)
    # Just over: counted while streaming. Far over: the declared length is enough.
    for extra in (LIMIT, LIMIT + 70_000):
        r = _upload(client, "big.png", PNG + b"\x00" * extra)
        assert r.status_code == 413 and r.json()["detail"][0]["loc"] == ["body", "file"]
        assert "larger than 64 KB" in r.json()["detail"][0]["msg"]
    assert _upload(client, "exact.png", PNG + b"\x00" * (LIMIT - len(PNG))).status_code == 201
    assert len(_files_on_disk(client)) == 1
    assert len(_history(client)) == len(before) + 1


def test_a_huge_streamed_upload_is_stopped_at_the_limit_not_read_through(client):
    """No Content-Length (chunked): the server counts while it writes and stops reading
    at the limit. The request body is a generator that counts what was pulled."""
    pulled = []
    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"public\"\r\n\r\nfalse\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"huge.png\"\r\nContent-Type: image/png\r\n\r\n").encode()  # fmt: skip

    async def body() -> AsyncIterator[bytes]:
        yield head + PNG
        for _ in range(1000):  # 64 MB if it were all read
            pulled.append(1)
            yield b"\x00" * 65536

    auth = bearer(client, "amy")

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return await http.post(
                f"/api/tickets/{client.ticket}/attachments", content=body(),
                headers={**auth,
                         "Content-Type": f"multipart/form-data; boundary={boundary}"},
            )  # fmt: skip

    r = client.portal.call(send)
    assert r.status_code == 413, r.text
    assert len(pulled) < 10  # stopped near 64 KB, not after 64 MB
    assert _files_on_disk(client) == []


@pytest.mark.parametrize(
    ("data", "files", "status", "loc"),
    [
        ({}, {"file": ("a.txt", b"hi")}, 422, ["body", "public"]),
        ({"public": "maybe"}, {"file": ("a.txt", b"hi")}, 422, ["body", "public"]),
        ({"public": "true"}, {}, 422, ["body", "file"]),
        ({"public": "true", "colour": "red"}, {"file": ("a.txt", b"hi")}, 422, ["body", "colour"]),
        ({"public": "true"}, {"file": ("empty.txt", b"")}, 422, ["body", "file"]),
        ({"public": "true", "body": "x" * 10_001}, {"file": ("a.txt", b"hi")}, 422,
         ["body", "body"]),
    ],
)  # fmt: skip
def test_a_bad_form_is_refused_with_the_field_and_nothing_stored(client, data, files, status, loc):
    url = f"/api/tickets/{client.ticket}/attachments"
    r = client.post(url, data=data, files=files or None, headers=bearer(client, "amy"))
    if not files:  # no file part at all: still a multipart body
        r = client.post(url, files={"public": (None, "true")}, headers=bearer(client, "amy"))
    assert r.status_code == status, r.text
    assert r.json()["detail"][0]["loc"] == loc
    assert _files_on_disk(client) == []
    assert len(_history(client)) == 1
    as_json = client.post(url, json={"public": True}, headers=bearer(client, "amy"))
    assert as_json.status_code == 415


def test_only_who_sees_the_ticket_uploads_lists_and_downloads(client):
    item = _upload(client, "a.txt", b"hello").json()
    base = f"/api/tickets/{client.ticket}/attachments"
    bob = bearer(client, "bob")
    assert _upload(client, "b.txt", b"hi", who="bob").status_code == 404
    assert client.get(base, headers=bob).status_code == 404
    assert client.get(item["url"], headers=bob).status_code == 404
    assert client.get(item["url"], headers=bearer(client, "sup")).status_code == 200
    assert client.get(f"{base}/999", headers=bearer(client, "amy")).status_code == 404
    # An attachment is only reachable under its own ticket.
    other = client.post("/api/tickets", json={
        "subject": "x", "requester_id": client.get(f"/api/tickets/{client.ticket}",
        headers=bob | bearer(client, "sup")).json()["requester_id"], "group_id": client.group,
    }, headers=bearer(client, "sup")).json()  # fmt: skip
    wrong = f"/api/tickets/{other['id']}/attachments/{item['id']}"
    assert client.get(wrong, headers=bearer(client, "sup")).status_code == 404
    assert len(_files_on_disk(client)) == 1


def test_a_closed_ticket_takes_no_attachment(client):
    sup = bearer(client, "sup")
    client.patch(f"/api/tickets/{client.ticket}", json={"status": "closed"}, headers=sup)
    r = _upload(client, "a.txt", b"late", who="sup")
    assert r.status_code == 409
    assert _files_on_disk(client) == []
