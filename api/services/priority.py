"""Priority from impact × urgency; safety reports are always top priority (S4.6 risk)."""

from __future__ import annotations

import re

# rows: impact 1 (widespread / severe) … 3 (minor); columns: urgency 1 (now) … 3 (can wait)
_MATRIX = (
    (1, 2, 3),
    (2, 3, 4),
    (3, 4, 4),
)

# words that mark a report as safety-related, in both languages
_SAFETY = re.compile(
    r"起火|着火|冒烟|烟雾|火花|爆炸|漏电|触电|电击|燃气泄漏|煤气泄漏|漏气|烧焦|烫伤|"
    r"\bfire\b|\bsmoke|\bsparks?\b|explo|electric shock|\bshocked\b|gas leak|leaking gas|"
    r"\bburn(?:t|ed|ing)?\b|scald",
    re.IGNORECASE,
)


def mentions_safety(text: str) -> bool:
    return bool(_SAFETY.search(text))


def priority_for(impact: int, urgency: int, *, safety: bool) -> int:
    """1 (highest) … 4."""
    if safety:
        return 1
    return _MATRIX[impact - 1][urgency - 1]


def raised(priority: int) -> int:
    """One level more urgent (escalation)."""
    return max(1, priority - 1)
