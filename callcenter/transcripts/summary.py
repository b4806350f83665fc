"""A few key sentences of a call's transcript, for the ticket made from it.

Pure (segments in, lines out), so it is tested on a fixed transcript. The picks:

1. The caller's first substantive utterance: why they called, nearly always.
2. Then the most informative others, by `score` = distinct content words × confidence.
   Content words are jieba words minus fillers and courtesies ("um", "okay", "嗯",
   "好的", "谢谢"...): a long, well-heard sentence full of names, numbers and nouns
   scores high; "yes, okay, thank you" scores nothing. Confidence weighs it because a
   confidently heard sentence is more likely to be what was said.

Lines too poorly heard (confidence below MIN_CONFIDENCE) or with fewer than
MIN_CONTENT_WORDS are never picked. The picks are told in the order they were spoken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from callcenter.tickets.call_summary import Language, TranscriptLine
from callcenter.transcripts.tokens import query_words

KEY_SENTENCES = 4
MIN_CONFIDENCE = 0.3
MIN_CONTENT_WORDS = 2

_FILLERS = """
    um umm uh uhh er erm ah ahh hmm mm oh eh okay ok yes yeah yep no nope hello hi hey
    thanks thank you please bye goodbye right sure well so like just i the a an is it
    that this to and of my me we alright fine good great s t re m ll ve d for with in on
    at be are was can do have your our us what how help calling welcome assist may will
    let see moment
    嗯 啊 哦 呃 噢 唉 喂 好 好的 行 对 对的 是 是的 嗯嗯 哈 呀 吧 呢 吗 嘛 了 的 我 你 他 她 它 我们
    你们 这个 那个 就是 然后 还有 一下 你好 您好 谢谢 感谢 再见 拜拜 没有 没 不是 可以 请问 有 什么
    帮 帮助 您 欢迎 致电 稍等
"""
FILLERS = frozenset(_FILLERS.split())

SPEAKERS: dict[Language, dict[str, str]] = {
    "en": {"caller": "Caller", "agent": "Agent"},
    "zh": {"caller": "客户", "agent": "坐席"},
}


@dataclass(frozen=True)
class Said:
    """What the summary needs of a segment."""

    speaker: str  # "caller" | "agent"
    start: float
    text: str
    confidence: float


def content_words(text: str) -> set[str]:
    return {w for w in query_words(text) if w not in FILLERS}


def score(said: Said) -> float:
    return len(content_words(said.text)) * said.confidence


def _usable(said: Said) -> bool:
    return said.confidence >= MIN_CONFIDENCE and len(content_words(said.text)) >= MIN_CONTENT_WORDS


def key_sentences(transcript: Sequence[Said], count: int = KEY_SENTENCES) -> list[Said]:
    """Up to `count` sentences: the caller's first substantive one, then the best
    scored; in the order spoken."""
    ordered = sorted(enumerate(transcript), key=lambda p: (p[1].start, p[0]))
    usable = [(i, s) for i, s in ordered if _usable(s)]
    picked: dict[int, Said] = {}
    first = next(((i, s) for i, s in usable if s.speaker == "caller"), None)
    if first is not None and count > 0:
        picked[first[0]] = first[1]
    for i, said in sorted(usable, key=lambda p: (-score(p[1]), p[1].start)):
        if len(picked) >= count:
            break
        picked.setdefault(i, said)
    return [s for i, s in ordered if i in picked]


def lines(transcript: Sequence[Said], language: Language) -> list[TranscriptLine]:
    """Sentences as the call summary prints them, speakers named in `language`."""
    names = SPEAKERS[language]
    return [TranscriptLine(names.get(s.speaker, s.speaker), s.text) for s in transcript]
