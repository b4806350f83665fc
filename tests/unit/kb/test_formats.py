"""Import file formats: what each reads, and the row/column a refusal names."""

from __future__ import annotations

import pytest

from callcenter.kb import formats
from tests.support.kb import ENTRIES_FILE

MD = """# 知识库
## 如何开发票？
category: 发票
tags: 发票, 报销
similar:
- 我要开票
- 电子发票

在订单页点击“申请发票”。

### 注意
税号必须正确。

## How long does delivery take?
kind: article
active: false

Usually **2-4 days**.
"""


def test_markdown_sections_carry_metadata_similar_questions_and_a_markdown_body():
    first, second = formats.parse("md", MD.encode())
    assert first.question == "如何开发票？"
    assert first.language == "zh"  # detected from the question
    assert first.category == "发票"
    assert first.tags == ["发票", "报销"]
    assert first.similar == ["我要开票", "电子发票"]
    assert first.answer == "在订单页点击“申请发票”。\n\n### 注意\n税号必须正确。"
    assert (second.language, second.kind, second.active) == ("en", "article", False)
    assert second.answer == "Usually **2-4 days**."


def test_markdown_refusals_name_the_heading_line():
    with pytest.raises(formats.RowRefused) as err:
        formats.parse("md", b"## Question one\nkind: faq\n\nAnswer.\n")
    assert (err.value.row, err.value.column) == (1, "kind")
    with pytest.raises(formats.RowRefused) as err:
        formats.parse("md", b"## Ok\n\nyes\n\n## No answer here\nlanguage: en\n")
    assert (err.value.row, err.value.column) == (5, "answer")


def test_csv_rows_and_their_refusals():
    good = "question,answer,similar_questions,language\nQ1,A1,a|b,en\n问题,答案,,\n"
    rows = formats.parse("csv", good.encode())
    assert [(r.question, r.similar, r.language) for r in rows] == [
        ("Q1", ["a", "b"], "en"), ("问题", [], "zh")]  # fmt: skip
    bad = "question,answer,language\nQ1,A1,en\nQ2,A2,fr\n"
    with pytest.raises(formats.RowRefused) as err:
        formats.parse("csv", bad.encode())
    assert (err.value.row, err.value.column) == (2, "language")
    with pytest.raises(formats.RowRefused) as err:
        formats.parse("csv", b"question,reply\nQ,A\n")
    assert (err.value.row, err.value.column) == (0, "answer")


def test_every_export_reads_back_as_the_same_entries():
    rows = formats.parse("md", ENTRIES_FILE.read_bytes())
    entries = [{"kind": r.kind, "language": r.language, "category": r.category,
                "question": r.question, "similar_questions": r.similar, "answer": r.answer,
                "tags": r.tags, "active": r.active} for r in rows]  # fmt: skip
    for fmt in formats.FORMATS:
        again = formats.parse(fmt, formats.export(fmt, entries))
        assert again == rows, fmt
