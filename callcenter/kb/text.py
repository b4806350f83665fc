"""Words for lexical matching: jieba for Chinese, lowercased words for English.

Both languages go through the same function, since a Chinese question often carries
English words ("WiFi", "APP") and an English one a product name; the language only picks
the stop words. Pure and deterministic, so the index and the query agree.
"""

from __future__ import annotations

import functools
import logging
import re

import jieba

jieba.setLogLevel(logging.WARNING)

LANGUAGES = ("zh", "en")
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# Function words carry no topic; questions are short, so one of these matching would
# weigh as much as a topic word in BM25's eyes.
_EN_STOP_WORDS = (
    "a an the i me my we our you your it its is are was were be been am do does did to of "
    "in on at for from by with and or but if so can could would should will shall may might "
    "have has had this that these those there here what how when where why which who whom "
    "please pls plz hi hello hey thanks thank any some just not no get got im i'm it's "
    "about into up out"
)
_EN_STOP = frozenset(_EN_STOP_WORDS.split())
_ZH_STOP_WORDS = (
    "的 了 吗 呢 吧 啊 呀 哦 嘛 么 我 你 您 他 她 它 我们 你们 是 在 有 和 与 就 都 也 还 "
    "要 想 请问 请 一下 这个 那个 这 那 个 把 被 给 让 啦 哈 嗯 能 可以 怎么 如何 什么 为什么 "
    "怎样 咋 咋办 怎么办 为啥"
)
_ZH_STOP = frozenset(_ZH_STOP_WORDS.split())


@functools.cache
def _ensure_jieba() -> bool:
    """Load jieba's dictionary once (~1 s); jieba locks it against a second thread."""
    jieba.initialize()
    return True


def detect_language(text: str) -> str:
    """zh when the text has any Han character, else en: a Chinese customer who types
    one Chinese word wants a Chinese answer."""
    return "zh" if _CJK.search(text) else "en"


def _stem(word: str) -> str:
    """A light English stemmer: plurals and the commonest verb endings, enough that
    "refunds"/"refunded"/"refund" meet; a real stemmer is not worth a dependency here."""
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """The matching words of `text`, in order, stop words left out."""
    text = text.lower()
    if not _CJK.search(text):
        return [_stem(w) for w in _WORD.findall(text) if w not in _EN_STOP]
    _ensure_jieba()
    out: list[str] = []
    for raw in jieba.lcut_for_search(text):
        piece = raw.strip()
        if not piece or piece in _ZH_STOP:
            continue
        if _CJK.search(piece):
            out.append(piece)
        else:
            out.extend(_stem(w) for w in _WORD.findall(piece) if w not in _EN_STOP)
    return out
