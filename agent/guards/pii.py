"""Find and mask personal data: emails, phones, card numbers (Luhn), IBANs, ids."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "card": re.compile(r"\b(?:\d[ -]?){13,19}\b"),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),
    "phone": re.compile(r"(?<![\w#])\+?\d{1,3}?[ .-]?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}\b"),
    "order_id": re.compile(r"#?\bW\d{7}\b"),
    "user_id": re.compile(r"\b[a-z]+_[a-z]+_\d{4}\b"),
    "address": re.compile(
        r"\b\d{1,5} (?:[A-Z][a-z]+ ){1,3}(?:Street|St|Road|Rd|Avenue|Ave|Drive|Dr|Lane|Ln"
        r"|Boulevard|Blvd|Way|Court|Ct|Place|Pl)\b\.?"
    ),
}


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """A detected value and its kind."""

    kind: str
    value: str
    start: int
    end: int


def luhn_ok(digits: str) -> bool:
    """Card-number checksum, to tell cards from other long numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def find_pii(text: str) -> list[PiiMatch]:
    """Every match, cards only when they pass Luhn, earliest first."""
    found: list[PiiMatch] = []
    for kind, pattern in _PATTERNS.items():
        for m in pattern.finditer(text):
            if kind == "card" and not luhn_ok(re.sub(r"\D", "", m.group())):
                continue
            found.append(PiiMatch(kind, m.group(), m.start(), m.end()))
    return sorted(found, key=lambda p: p.start)


def mask_pii(text: str) -> str:
    """Replace each match with ``[KIND]``; overlapping matches keep the first."""
    out, cursor = [], 0
    for match in find_pii(text):
        if match.start < cursor:
            continue
        out.append(text[cursor : match.start])
        out.append(f"[{match.kind.upper()}]")
        cursor = match.end
    out.append(text[cursor:])
    return "".join(out)


def canonical(value: str) -> str:
    """Comparable form: lower case, digits and letters only."""
    return re.sub(r"[^a-z0-9@.]", "", value.lower())
