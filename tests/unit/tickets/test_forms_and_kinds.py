"""Pure rules behind ticket forms and attachments: form values, text sniffing, file
names. The API tests cover the same through the app; these pin the edge cases."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from callcenter.tickets.attachment_kinds import TextCheck, parse_allowed
from callcenter.tickets.attachment_store import clean_filename
from callcenter.tickets.forms import FormError, FormField, NewType, check_values

FORM = [
    FormField(key="n", label_en="N", label_zh="数", kind="number", required=True),
    FormField(key="d", label_en="D", label_zh="日", kind="date"),
]


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({}, "n"),
        ({"n": float("nan")}, "n"),
        ({"n": False}, "n"),
        ({"n": 1, "d": "2026-13-01"}, "d"),
        ({"n": 1, "d": 20261201}, "d"),
        ({"n": 1, "x": 1}, "x"),
    ],
)
def test_values_that_do_not_fit_name_their_key(values, key):
    with pytest.raises(FormError) as refused:
        check_values(FORM, values)
    assert refused.value.key == key


def test_values_that_fit_pass():
    check_values(FORM, {"n": 2.5, "d": "2024-02-29"})
    check_values(FORM, {"n": 0})


def test_a_form_lists_each_key_once():
    field = {"key": "a", "label_en": "A", "label_zh": "甲", "kind": "text"}
    with pytest.raises(ValidationError, match="listed twice"):
        NewType(name="x", label_en="X", label_zh="X", form=[field, field])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("chunks", "ok"),
    [
        ([b"plain ascii\n"], True),
        (["中文".encode()[:4], "中文".encode()[4:]], True),  # a character split across chunks
        (["姓名,电话".encode("gb18030")], True),
        ([b"\xef\xbb\xbfwith a BOM"], True),
        ([b"nul\x00inside"], False),
        ([b"\xff\xfe\xfd\xfc\x80\x80"], False),
    ],
)
def test_text_is_utf8_or_gb18030_without_nul(chunks, ok):
    check = TextCheck()
    for chunk in chunks:
        check.feed(chunk)
    check.feed(b"", final=True)
    assert check.ok is ok


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("C:\\Users\\li\\报告.pdf", "报告.pdf"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ('a"b<c>\x07.png', "abc.png"),
        ("..hidden.txt", "hidden.txt"),
        ("x" * 300 + ".pdf", "x" * 251 + ".pdf"),
    ],
)
def test_file_names_lose_directories_and_unsafe_characters(raw, clean):
    assert clean_filename(raw) == clean


def test_the_allow_list_knows_only_sniffable_types():
    assert parse_allowed(" PNG, .pdf,png ") == ("png", "pdf")
    with pytest.raises(ValueError, match="svg"):
        parse_allowed("png,svg")
