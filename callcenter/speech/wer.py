"""Word error rate: how far a transcript is from what was said.

WER = (substitutions + deletions + insertions) / words said, from the Levenshtein
alignment over tokens. Text is normalised first (lowercase, punctuation dropped) so
"Hello, world." and "hello world" agree. Chinese, Japanese and Thai are written without
spaces between words and their word segmentation is itself a guess, so text in those
scripts is compared character by character (the usual CER); Korean puts spaces between
words and is compared by words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

# Han, Hiragana/Katakana, Thai: scripts written without spaces between words.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f]")


def tokens(text: str) -> list[str]:
    """Normalised tokens: words, with unspaced scripts split into characters."""
    cleaned = "".join(
        " " if unicodedata.category(ch)[0] in "PSZC" and ch != "'" else ch
        for ch in unicodedata.normalize("NFKC", text).lower()
    )
    cleaned = cleaned.replace("'", "")  # "don't" and "dont" are the same word said
    out: list[str] = []
    for word in cleaned.split():
        if _UNSPACED.search(word):
            out.extend(ch for ch in word if not ch.isspace())
        else:
            out.append(word)
    return out


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance over tokens (one row at a time: memory grows with one side)."""
    previous = list(range(len(hypothesis) + 1))
    for i, said in enumerate(reference, 1):
        current = [i]
        for j, heard in enumerate(hypothesis, 1):
            current.append(
                min(
                    previous[j] + 1,  # deletion: said, not heard
                    current[j - 1] + 1,  # insertion: heard, not said
                    previous[j - 1] + (said != heard),  # match or substitution
                )
            )
        previous = current
    return previous[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Errors per word said; 0.0 is perfect and it can exceed 1.0 (many insertions)."""
    said, heard = tokens(reference), tokens(hypothesis)
    if not said:
        return 0.0 if not heard else 1.0
    return edit_distance(said, heard) / len(said)


def corpus_wer(pairs: Sequence[tuple[str, str]]) -> float:
    """WER over many (reference, hypothesis) pairs: total errors / total words said."""
    errors = words = 0
    for reference, hypothesis in pairs:
        said = tokens(reference)
        errors += edit_distance(said, tokens(hypothesis))
        words += len(said)
    return errors / words if words else 0.0


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate, spaces ignored: for Korean, whose spacing recognizers guess."""
    said = [ch for ch in tokens(reference) for ch in ch]
    heard = [ch for ch in tokens(hypothesis) for ch in ch]
    if not said:
        return 0.0 if not heard else 1.0
    return edit_distance(said, heard) / len(said)
