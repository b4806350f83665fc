"""Text as the search index sees it: jieba words, lowercased, one space between.

Neither SQLite's unicode61 tokenizer nor PostgreSQL's parser knows where a Chinese word
ends (they would index whole runs of characters, or single ones), so the text is cut
into words here, once, and both indexes only split on the spaces. English passes through
jieba as words too; lowercasing makes search case-blind on both backends.

Indexing uses jieba's search mode (a long word and the shorter words inside it, so
"银行卡" is found by "银行" too); queries use its precise mode, whose words the search
mode always also produced.
"""

from __future__ import annotations

import re
import threading

import jieba

_WORD = re.compile(r"\w", re.UNICODE)
_lock = threading.Lock()
_tokenizers: list[jieba.Tokenizer] = []


def _jieba() -> jieba.Tokenizer:
    """Our own tokenizer, built once: jieba builds its dictionary on first use (~0.5 s)
    and that is not thread-safe (the writer thread and the event loop both cut text)."""
    if not _tokenizers:
        with _lock:
            if not _tokenizers:
                jieba.setLogLevel(60)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                _tokenizers.append(tokenizer)
    return _tokenizers[0]


def _words(pieces: list[str]) -> list[str]:
    return [p for p in (piece.strip().lower() for piece in pieces) if p and _WORD.search(p)]


def index_words(text: str) -> str:
    """What is stored in `words` and indexed."""
    return " ".join(_words(_jieba().lcut_for_search(text)))


def query_words(query: str) -> list[str]:
    """The words a query must all match (empty: nothing searchable in it)."""
    seen: dict[str, None] = {}
    for word in _words(_jieba().lcut(query)):
        seen.setdefault(word, None)
    return list(seen)
