"""Phone numbers as identities: one canonical spelling per number."""

from __future__ import annotations

import re

_KEEP = re.compile(r"[^0-9+]")


def normalize_phone(raw: str) -> str:
    """Strip formatting so "+86 138-0013-8000" and "+8613800138000" are the same caller.

    A leading `00` is the international prefix written without `+`. Numbers without a
    country code are kept as dialed: guessing one would merge unrelated customers.
    """
    digits = _KEEP.sub("", raw.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if "+" in digits[1:]:
        digits = digits[0] + digits[1:].replace("+", "")
    return digits
