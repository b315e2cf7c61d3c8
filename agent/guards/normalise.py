"""Input hygiene: refuse unusable text, normalise the rest before anything scores it."""

from __future__ import annotations

import re
import unicodedata

from agent.errors import InvalidInputError

# Zero-width, word-joiner, BOM and bidi controls: invisible to people, visible to models.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def validate_message(text: str, max_chars: int) -> None:
    """Raise ``InvalidInputError`` for text no customer could have meant to send."""
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        raise InvalidInputError("message is not valid UTF-8; send plain UTF-8 text")
    if _CONTROL.search(text):
        raise InvalidInputError("message contains control characters; send plain text")
    if not text.strip() or not _INVISIBLE.sub("", text).strip():
        raise InvalidInputError("message is empty; type a question")
    if len(text) > max_chars:
        raise InvalidInputError(
            f"message is {len(text)} characters; the limit is {max_chars}, shorten it"
        )


def normalise(text: str) -> tuple[str, list[str]]:
    """NFKC-fold, strip invisible characters and collapse spacing; report what changed."""
    flags: list[str] = []
    folded = unicodedata.normalize("NFKC", text)
    if folded != text:
        flags.append("unicode_folded")
    visible = _INVISIBLE.sub("", folded)
    if visible != folded:
        flags.append("invisible_chars")
    return re.sub(r"[ \t]+", " ", visible).strip(), flags
