"""Prompt-injection scoring by weighted heuristics, on the text and on decoded payloads."""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from dataclasses import dataclass
from typing import Literal

from agent.state import GuardVerdict, Verdict

Mode = Literal["input", "document"]

BLOCK_AT = 0.75
FLAG_AT = 0.4


@dataclass(frozen=True, slots=True)
class Rule:
    """One signal; weights combine as independent evidence (noisy-OR)."""

    code: str
    pattern: re.Pattern[str]
    weight: float


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, flags=re.IGNORECASE | re.DOTALL)


_OVERRIDE_VERB = r"(ignore|disregard|forget|override|bypass|skip)"
_THEIR_RULES = (
    r"(instructions?|prompts?|system (message|prompt)|guidelines|guardrails|rules|policies)"
)

RULES: tuple[Rule, ...] = (
    Rule(
        "override_instructions",
        _rx(
            rf"\b{_OVERRIDE_VERB}\b.{{0,40}}\b(previous|prior|above|all|earlier|your|the|any)\b"
            rf".{{0,25}}\b{_THEIR_RULES}"
        ),
        0.85,
    ),
    Rule(
        "prompt_exfiltration",
        _rx(
            r"\b(reveal|show|print|repeat|output|leak|dump|tell me)\b.{0,30}"
            r"\b(system prompt|hidden (prompt|instructions)|initial instructions|developer message"
            r"|your (prompt|instructions))"
        ),
        0.8,
    ),
    Rule(
        "role_hijack",
        _rx(
            r"\b(you are now|from now on,? you|pretend (to be|you are)|act as)\b.{0,40}"
            r"\b(dan|unrestricted|unfiltered|jailbroken|evil|no (rules|restrictions|limits))\b"
        ),
        0.8,
    ),
    Rule("jailbreak_term", _rx(r"\b(jailbreak|developer mode|do anything now|DAN mode)\b"), 0.6),
    Rule(
        "role_markers",
        _rx(
            r"(<\|?\s*/?\s*(system|im_start|im_end|assistant)\b|\[/?INST\]"
            r"|^\s*#{2,}\s*(system|instruction))"
        ),
        0.6,
    ),
    Rule(
        "new_instructions",
        _rx(r"\b(new|updated|real|actual) (instructions?|task|directive)s?\s*[:：]"),
        0.5,
    ),
    Rule(
        "tool_steering",
        _rx(
            r"\b(call|invoke|use|run)\b.{0,20}\b(tool|function|api)\b.{0,40}"
            r"\b(for|with|on)\b.{0,20}\b(user|customer|account|order)"
        ),
        0.45,
    ),
    Rule(
        "addressed_to_ai",
        _rx(
            r"(\bwhen (you|the (assistant|ai|model)) (summari[sz]e|read|process|answer)"
            r"|\bif you are an? (ai|assistant|language model|llm)\b"
            r"|\bnote to (the )?(ai|assistant)\b"
            r"|^\s*(ai|assistant|system)\s*[:,])"
        ),
        0.6,
    ),
    Rule(
        "tells_reader",
        _rx(r"\b(tell|inform|instruct|remind) (the )?(user|customer|reader)s?\b"),
        0.35,
    ),
    Rule(
        "privilege_claim",
        _rx(
            r"\b(i am|i'm|as)\b.{0,12}\b(the )?(admin|administrator|head of|manager|supervisor"
            r"|staff|employee|support lead|developer|owner)\b"
        ),
        0.35,
    ),
    Rule("names_a_user_id", _rx(r"\b[a-z]+_[a-z]+_\d{4}\b"), 0.3),
    Rule(
        "cross_customer",
        _rx(
            r"\b(other|another|all|every)\b.{0,15}\b(customers?|users?)('s|s')?\b.{0,20}"
            r"\b(orders?|data|accounts?|details|emails?|address(es)?)\b"
        ),
        0.5,
    ),
    Rule(
        "exfil_link",
        _rx(r"!\[[^\]]*\]\(https?://|\b(send|post|forward)\b.{0,40}\bto\b.{0,20}https?://"),
        0.6,
    ),
)

_BASE64 = re.compile(r"\b[A-Za-z0-9+/]{24,}={0,2}")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}){12,}\b")
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)


def _decoded_views(text: str) -> list[tuple[str, str]]:
    """Plausible decodings an attacker might hide instructions in."""
    views = [("leet", text.translate(_LEET)), ("rot13", codecs.decode(text, "rot13"))]
    for blob in _BASE64.findall(text):
        try:
            views.append(("base64", base64.b64decode(blob + "=" * (-len(blob) % 4)).decode()))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
    for blob in _HEX.findall(text):
        try:
            views.append(("hex", bytes.fromhex(blob).decode()))
        except (ValueError, UnicodeDecodeError):
            continue
    return views


def _hits(text: str) -> dict[str, float]:
    return {r.code: r.weight for r in RULES if r.pattern.search(text)}


def score_text(text: str, mode: Mode = "input") -> GuardVerdict:
    """Combine every rule hit, on the text and its decodings, into one verdict."""
    hits = _hits(text)
    for name, view in _decoded_views(text):
        for code, weight in _hits(view).items():
            hits.setdefault(f"{code}:{name}", weight)
    if mode == "document":
        # Passages legitimately say "use the form"; only instruction-shaped text counts.
        hits.pop("tool_steering", None)
    remaining = 1.0
    for weight in hits.values():
        remaining *= 1.0 - weight
    score = round(1.0 - remaining, 3)
    verdict: Verdict = "block" if score >= BLOCK_AT else "flag" if score >= FLAG_AT else "allow"
    return {"verdict": verdict, "score": score, "reasons": sorted(hits)}


def matched_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of rule hits in the plain text, for neutralising passages."""
    return [m.span() for r in RULES for m in r.pattern.finditer(text)]
