"""What is kept of a customer's mail: plain text first, HTML as text, a reply without
the conversation it quotes."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from callcenter.mail.text import REPLY_MARKER, body_text, html_to_text, reply_text


def _parsed(message: EmailMessage) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_plain_text_is_preferred_over_html():
    message = EmailMessage()
    message.set_content("plain words")
    message.add_alternative("<p>html words</p>", subtype="html")
    assert body_text(_parsed(message)) == "plain words"


def test_html_alone_is_reduced_to_its_text():
    html = ("<html><head><title>t</title><style>p {color: red}</style></head><body>"
            "<p>Hello&nbsp;<b>there</b>,</p><div>line two</div><script>alert(1)</script>"
            "<p>路由器 &amp; 光猫</p></body></html>")  # fmt: skip
    assert html_to_text(html) == "Hello there,\n\nline two\n\n路由器 & 光猫"
    message = EmailMessage()
    message.set_content(html, subtype="html")
    assert body_text(_parsed(message)) == "Hello there,\n\nline two\n\n路由器 & 光猫"


def test_a_chinese_mail_in_gb18030_is_read():
    message = EmailMessage()
    message.set_content("网络断了", charset="gb18030")
    assert body_text(_parsed(message)) == "网络断了"


def test_a_reply_keeps_what_was_written_above_the_quote():
    quoted = (f"Still broken.\nThanks\n\nOn Mon, 30 Nov 2026 at 09:00, Support wrote:\n"
              f"> {REPLY_MARKER}\n>\n> Please try a reset.\n")  # fmt: skip
    assert reply_text(quoted) == "Still broken.\nThanks"
    chinese = "还是不行\n\n2026年11月30日 客服 写道：\n> 请重启\n"
    assert reply_text(chinese) == "还是不行"
    # A quote in the middle (an inline answer) is the customer's text: kept.
    inline = "> Which model?\nAX3000\n> Since when?\nMonday"
    assert reply_text(inline) == inline
    assert reply_text("no quote at all") == "no quote at all"
