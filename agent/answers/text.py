"""Tiny text utilities shared by answer writing and reflection: terms and sentences."""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "by",
        "with",
        "about",
        "as",
        "into",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "done",
        "have",
        "has",
        "had",
        "i",
        "me",
        "my",
        "mine",
        "you",
        "your",
        "yours",
        "we",
        "our",
        "us",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "not",
        "no",
        "yes",
        "so",
        "than",
        "then",
        "too",
        "very",
        "just",
        "also",
        "please",
        "hi",
        "hello",
        "thanks",
        "thank",
        "want",
        "need",
        "get",
        "got",
        "make",
        "like",
        "know",
        "tell",
        "let",
        "any",
        "some",
        "all",
        "each",
        "much",
        "many",
        "more",
        "most",
        "other",
        "own",
        "same",
        "only",
        "out",
        "up",
        "down",
        "over",
        "again",
        "once",
        "am",
    ]
)
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def stem(word: str) -> str:
    """Crude suffix folding, enough to match refund/refunds/refunded."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> set[str]:
    """Content terms of a text."""
    return {stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1}


def _lines(text: str) -> list[str]:
    """Split into sentences and lines; a line ending in ':' absorbs the short list after it."""
    out: list[str] = []
    collecting = False
    for raw in _SENTENCE.split(text):
        is_item = bool(re.match(r"^\s*(?:[-*•]|\d+[.)])\s+", raw))
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", raw)
        line = re.sub(r"\*\*|__|`", "", line).strip()
        if collecting and is_item and len(line) < 60:
            joiner = " " if out[-1].endswith(":") else ", "
            out[-1] = f"{out[-1]}{joiner}{line}"
            continue
        collecting = line.endswith(":")
        out.append(line)
    return out


def sentences(text: str) -> list[str]:
    """Sentences and bullet lines, stripped of list markers; headings dropped."""
    return [
        line
        for line in _lines(text)
        if len(line) >= 12 and not line.startswith("#") and re.search(r"[a-z]", line)
    ]


def coverage(question: str, text: str) -> float:
    """Share of the question's content terms found in ``text``."""
    wanted = terms(question)
    return len(wanted & terms(text)) / len(wanted) if wanted else 1.0


def similar(a: str, b: str, threshold: float = 0.6) -> bool:
    """Jaccard similarity of content terms, to drop near-duplicate sentences."""
    ta, tb = terms(a), terms(b)
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) >= threshold


_PHRASE_BREAK = re.compile(r"[.!?](?=\s|$)|\n+")
"""Sentence ends (not the point of "4.99" or "e.g" mid-word) and line breaks."""
_PHRASE_WORD = re.compile(r"[$€£%]|[^\W_]+(?:[.,'’][^\W_]+)*")
"""Words in any script, numbers with their separators kept whole ("4.99", "1,000"),
contractions ("don't"), and currency and percent signs, which change a figure's meaning."""


def _phrases(text: str) -> list[list[str]]:
    """Word sequences between sentence ends, every word kept (negations and modals too)."""
    return [words for p in _PHRASE_BREAK.split(text.lower()) if (words := _PHRASE_WORD.findall(p))]


class SourcePhrases:
    """Some sources' sentences as word sequences, to test whether a text only restates them."""

    def __init__(self, source_text: str) -> None:
        self._sentences = {" ".join(words) for words in _phrases(source_text)}

    def restates(self, text: str) -> bool:
        """Every sentence of ``text`` is, word for word, a whole sentence of the sources.

        Punctuation inside a sentence and case are ignored; nothing else is. Dropping a "not",
        adding "free", changing "$4.99", stitching two source sentences together, or cutting
        one short before its "unless …" all fail. A text with no words is not vouched for.
        """
        phrases = _phrases(text)
        return bool(phrases) and all(" ".join(words) in self._sentences for words in phrases)
