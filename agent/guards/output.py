"""Validate text before it reaches a customer, chunk by chunk."""

from __future__ import annotations

import re
from collections.abc import Iterable

from agent.guards.pii import canonical, find_pii
from agent.state import GuardVerdict, Verdict

_UNSAFE_MARKUP = re.compile(
    r"<\s*(script|iframe|object|embed|img|svg|style|link|meta|form)\b|javascript:|\bon\w+\s*=",
    flags=re.IGNORECASE,
)
_LINK = re.compile(r"\b(?:https?://|www\.)[^\s)>\]]+", flags=re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def split_chunks(text: str) -> list[str]:
    """Sentence-sized pieces with their trailing whitespace, so joined they equal ``text``."""
    pieces, cursor = [], 0
    for match in _SENTENCE_END.finditer(text):
        pieces.append(text[cursor : match.end()])
        cursor = match.end()
    if cursor < len(text):
        pieces.append(text[cursor:])
    return [p for p in pieces if p]


def check_chunk(
    chunk: str,
    *,
    allowed_values: Iterable[str],
    canary: str,
    allowed_link_hosts: Iterable[str] = (),
) -> GuardVerdict:
    """Block on canary leakage, foreign personal data, unsafe markup or unknown links."""
    reasons: list[str] = []
    if canary and canary in chunk:
        reasons.append("canary_leak")
    allowed = {canonical(v) for v in allowed_values}
    if any(canonical(p.value) not in allowed for p in find_pii(chunk)):
        reasons.append("foreign_pii")
    if _UNSAFE_MARKUP.search(chunk):
        reasons.append("unsafe_markup")
    hosts = tuple(h.lower() for h in allowed_link_hosts)
    for link in _LINK.findall(chunk):
        host = re.sub(r"^(https?://)?(www\.)?", "", link.lower()).split("/")[0]
        if not host.endswith(hosts) or not hosts:
            reasons.append("unlisted_link")
            break
    verdict: Verdict = "block" if reasons else "allow"
    return {"verdict": verdict, "score": 1.0 if reasons else 0.0, "reasons": reasons}
