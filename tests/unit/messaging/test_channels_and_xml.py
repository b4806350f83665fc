"""Pure logic of messaging channels: parsing the setting, WeChat XML, signatures."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from callcenter.messaging import wechat
from callcenter.messaging.channels import parse_channels
from callcenter.messaging.signatures import body_signed, wechat_signature, wechat_signed


def test_channels_parse_and_bad_entries_are_named():
    raw = json.dumps([
        {"kind": "webhook", "name": "sms", "secret": "s", "url": "https://gw.example/out"},
        {"kind": "wechat", "name": "gzh", "app_id": "wx1", "app_secret": "as", "token": "t"},
    ])  # fmt: skip
    channels = parse_channels(raw)
    assert channels["sms"].site == "channel:webhook:sms"
    assert channels["gzh"].api_base == "https://api.weixin.qq.com"
    assert "secret" not in channels["gzh"].view() and "token" not in channels["gzh"].view()
    assert parse_channels("") == {}
    bad = [
        "{",
        json.dumps({"kind": "webhook"}),
        json.dumps([{"kind": "sms", "name": "x", "secret": "s"}]),
        json.dumps([{"kind": "webhook", "name": "x", "secret": "s", "url": "ftp://x"}]),
        json.dumps([{"kind": "webhook", "name": "Bad Name", "secret": "s", "url": "http://x"}]),
        json.dumps([{"kind": "wechat", "name": "w", "app_id": "a", "app_secret": "b"}]),
        json.dumps([{"kind": "webhook", "name": "a", "secret": "s", "url": "http://x"}] * 2),
    ]
    for raw in bad:
        with pytest.raises(ValueError):
            parse_channels(raw)


def test_wechat_xml_is_parsed_and_answers_escape_text():
    body = (b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]>"
            b"</FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]>"
            b"</MsgType><Content><![CDATA[a < b]]></Content><MsgId>42</MsgId></xml>")  # fmt: skip
    pushed = wechat.parse(body)
    assert (pushed.from_user, pushed.content, pushed.dedupe_key) == ("o1", "a < b", "42")
    reply = wechat.text_reply(pushed, "x < y & z", 1700000001)
    assert "<Content>x &lt; y &amp; z</Content>" in reply
    assert wechat.parse(reply.encode()).content == "x < y & z"
    with pytest.raises(ValueError):
        wechat.parse(b'<!DOCTYPE x [<!ENTITY a "b">]><xml><MsgType>&a;</MsgType></xml>')
    with pytest.raises(ValueError):
        wechat.parse(b"not xml")
    with pytest.raises(ValueError):
        wechat.parse(b"<xml><MsgType>text</MsgType></xml>")  # from nobody


def test_signatures():
    # WeChat's scheme: sha1 over the three strings sorted and joined.
    expected = hashlib.sha1(b"".join(sorted([b"tok", b"123", b"abc"]))).hexdigest()
    assert wechat_signature("tok", "123", "abc") == expected
    assert wechat_signed("tok", "123", "abc", expected.upper())
    assert not wechat_signed("tok", "124", "abc", expected)
    header = "sha256=" + hmac.new(b"k", b"{}", "sha256").hexdigest()
    assert body_signed("k", b"{}", header)
    assert not body_signed("k", b"{ }", header)
