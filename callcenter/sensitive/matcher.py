"""Find listed phrases in a text, on word boundaries, with offsets into the original text.

Pure and in memory: built once per change of the lists, then `find` is a dictionary
lookup per word position: ~0.2 ms for a sentence against 2,000 phrases, no query.

A phrase matches where it starts and ends on word boundaries of the text, never inside
a longer word: "ass" is not in "class", 操 (a vulgar verb) is not in 操作 (operate).

- English: words are runs of letters and digits (an apostrophe inside a word is part of
  it); case is ignored; a multi-word phrase matches across any whitespace or punctuation
  between its words ("son of a" matches "Son-of-a"); the last word also matches its plural
  (+s, +es, y -> ies) and possessive ('s, s'), so "refund" matches "refunds" and
  "manager's".
- Chinese: jieba segments the text into words. Every listed phrase is added to the
  matcher's jieba dictionary so it segments as one word; a phrase matches where its first
  character starts a word and its last character ends one, so a phrase that jieba still
  splits in some context (its parts being likelier words there) matches all the same,
  while a phrase inside a longer dictionary word does not (操 is not in 操作, but neither
  is 去死 in 去死吧: list the longer form too). jieba's HMM guessing of unknown words is
  off: it glues unknown runs of characters together and would swallow listed phrases
  (我操 as one "word"). Whitespace next to a Chinese character is ignored, since some
  recognizers put spaces between characters (退 款). A listed phrase inside a longer
  listed phrase is reported with it (both 我要退款 and 退款 in 我要退款).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import jieba

LANGUAGES = ("zh", "en")

# A word: letters and digits, with inner apostrophes (don't, manager's).
_EN_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_POSSESSIVE = re.compile(r"['’]s?$")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Phrase:
    """A listed phrase as the matcher needs it (the stored row has more)."""

    id: int
    phrase: str
    language: str


@dataclass(frozen=True, slots=True)
class Match:
    """`phrase` found at `text[start:end]` of the text given to `find` (the original, so a
    page can highlight it); `text[start:end]` may differ from the phrase (case, plural,
    spaces between Chinese characters)."""

    phrase_id: int
    phrase: str
    start: int
    end: int


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0x3400 <= code <= 0x4DBF  # extension A
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0x20000 <= code <= 0x2FA1F  # extensions B..F, compatibility supplement
    )


def en_words(text: str) -> list[tuple[str, int, int]]:
    """(normalized word, start, end): lowercase, possessive dropped."""
    words = []
    for m in _EN_WORD.finditer(text):
        word = _POSSESSIVE.sub("", m.group().lower()) or m.group().lower()
        words.append((word, m.start(), m.end()))
    return words


def _en_variants(word: str) -> set[str]:
    """The forms a phrase's last word also matches in: plural, and possessive after
    `en_words` dropped the apostrophe ("boss'" -> "boss", "bosses'" -> "bosses")."""
    forms = {word, word + "s", word + "es"}
    if len(word) > 1 and word.endswith("y") and word[-2] not in "aeiou":
        forms.add(word[:-1] + "ies")
    return forms


class _Jieba:
    """jieba's dictionary, loaded once per process (~0.7 s), and for each matcher a
    tokenizer of its own: a copy of it (~15 ms) with the matcher's phrases added. Apart
    from jieba's global tokenizer, so listed phrases do not change how anything else
    segments; and per matcher, so a phrase deleted from the lists stops being a word
    (were 我要退款 to stay one, 退款 would no longer match in it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._base: jieba.Tokenizer | None = None

    def tokenizer(self, words: Iterable[str]) -> jieba.Tokenizer:
        with self._lock:
            if self._base is None:
                jieba.setLogLevel(logging.WARNING)
                base = jieba.Tokenizer()
                base.initialize()
                self._base = base
            base = self._base
        own = jieba.Tokenizer()
        own.FREQ, own.total, own.initialized = dict(base.FREQ), base.total, True
        for word in words:
            own.add_word(word)
        return own


_JIEBA = _Jieba()


def _zh_normal(text: str) -> tuple[str, list[int]]:
    """The text without whitespace that touches a Chinese character, and for each kept
    character its index in the original."""
    kept: list[str] = []
    where: list[int] = []
    for m in re.finditer(r"\s+|\S+", text):
        chunk = m.group()
        if chunk.isspace():
            before = text[m.start() - 1] if m.start() > 0 else ""
            after = text[m.end()] if m.end() < len(text) else ""
            if (before and _is_cjk(before)) or (after and _is_cjk(after)):
                continue
            chunk = " "
        kept.append(chunk)
        where.extend(range(m.start(), m.start() + len(chunk)))
    return "".join(kept), where


def _zh_key(phrase: str) -> str:
    return normal_phrase(phrase, "zh")


class Matcher:
    """Phrases of every language, ready to be found; immutable once built."""

    def __init__(self, phrases: Iterable[Phrase]) -> None:
        self._en: dict[tuple[str, ...], list[Phrase]] = {}
        self._zh: dict[str, list[Phrase]] = {}
        self._en_longest = 0
        self._zh_longest = 0
        for p in phrases:
            if p.language == "en":
                words = [w for w, _, _ in en_words(p.phrase)]
                if not words:
                    continue
                for last in _en_variants(words[-1]):
                    self._en.setdefault((*words[:-1], last), []).append(p)
                self._en_longest = max(self._en_longest, len(words))
            elif p.language == "zh":
                key = _zh_key(p.phrase)
                if key:
                    self._zh.setdefault(key, []).append(p)
                    self._zh_longest = max(self._zh_longest, len(key))
        # Listed phrases inside a longer listed one (退款 in 我要退款): jieba segments the
        # longer one as a word, so the shorter has no boundary there, but both are listed.
        self._zh_inner: dict[str, list[tuple[int, int, Phrase]]] = {}
        for key in self._zh:
            for lo in range(len(key)):
                for hi in range(lo + 1, len(key) + 1):
                    if (lo, hi) != (0, len(key)):
                        for p in self._zh.get(key[lo:hi], ()):
                            self._zh_inner.setdefault(key, []).append((lo, hi, p))
        self._jieba = _JIEBA.tokenizer(self._zh) if self._zh else None

    def __len__(self) -> int:
        return len({p.id for ps in (*self._en.values(), *self._zh.values()) for p in ps})

    def find(self, text: str, language: str) -> list[Match]:
        """Every occurrence of a phrase of `language` ('zh' or 'en'; another finds
        nothing), in order of position; overlapping phrases are all reported."""
        if language == "en":
            found = list(self._find_en(text))
        elif language == "zh":
            found = list(self._find_zh(text))
        else:
            return []
        return sorted(found, key=lambda m: (m.start, -m.end, m.phrase_id))

    def _find_en(self, text: str) -> Iterator[Match]:
        if not self._en:
            return
        words = en_words(text)
        for i in range(len(words)):
            for n in range(1, min(self._en_longest, len(words) - i) + 1):
                for p in self._en.get(tuple(w for w, _, _ in words[i : i + n]), ()):
                    yield Match(p.id, p.phrase, words[i][1], words[i + n - 1][2])

    def _find_zh(self, text: str) -> Iterator[Match]:
        if self._jieba is None:
            return
        normal, where = _zh_normal(text)
        # Word boundaries of the normalized text, as jieba segments it (lowercase so a
        # listed Latin word inside Chinese text matches in any case).
        lowered = normal.lower()
        if len(lowered) != len(normal):  # a rare letter whose lowercase is longer (İ)
            lowered = normal
        bounds = [(start, end) for _, start, end in self._jieba.tokenize(lowered, HMM=False)]
        ends = {end for _, end in bounds}
        seen: set[tuple[int, int, int]] = set()
        for start, _ in bounds:
            for stop in range(start + 1, min(start + self._zh_longest, len(normal)) + 1):
                if stop not in ends:
                    continue
                key = lowered[start:stop]
                spans = [(0, stop - start, p) for p in self._zh.get(key, ())]
                if spans:
                    spans += self._zh_inner.get(key, [])
                for lo, hi, p in spans:
                    if (p.id, start + lo, start + hi) not in seen:
                        seen.add((p.id, start + lo, start + hi))
                        yield Match(p.id, p.phrase, where[start + lo], where[start + hi - 1] + 1)


def normal_phrase(phrase: str, language: str) -> str:
    """How a phrase is stored and compared for duplicates: trimmed, lowercase, runs of
    whitespace as one space, and for Chinese no whitespace next to a Chinese character
    (so 退 款 and 退款 are the same phrase)."""
    text = _SPACE.sub(" ", phrase).strip().lower()
    if language == "zh":
        text = _zh_normal(text)[0]
    return text
