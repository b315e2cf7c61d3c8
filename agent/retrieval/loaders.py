"""Read Markdown, HTML, text and JSON articles into ``Document`` records."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from agent.errors import IngestError
from agent.retrieval.store import Audience

SUFFIXES = {".md", ".markdown", ".html", ".htm", ".txt", ".json"}
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Document:
    """A whole article before chunking; Markdown-ish text with ``#`` headings."""

    doc_id: str
    title: str
    text: str
    source: str
    audience: Audience = "customer"


def slugify(value: str) -> str:
    """Stable, filter-safe id from a name."""
    return _SLUG.sub("-", value.lower()).strip("-")[:120] or "doc"


class _HTMLToText(HTMLParser):
    """Keep headings as Markdown headings so HTML chunks split like Markdown."""

    _SKIP = frozenset({"script", "style", "nav", "footer"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif re.fullmatch(r"h[1-3]", tag):
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in {"p", "li", "br", "div", "tr"}:
            self.parts.append("\n" + ("- " if tag == "li" else ""))

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif re.fullmatch(r"h[1-3]", tag):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML page with headings kept."""
    parser = _HTMLToText()
    parser.feed(html)
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)).strip()


def _first_heading(text: str) -> str | None:
    match = re.search(r"^#\s+(.+)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else None


def _json_articles(data: Any, path: Path) -> Iterator[dict[str, Any]]:
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]
    items = data if isinstance(data, list) else [data]
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("content"), str):
            raise IngestError(f"{path}: expected objects with 'title' and 'content' strings")
        yield item


def load_file(path: Path, audience: Audience = "customer") -> list[Document]:
    """Parse one file; raises ``IngestError`` with the file name on any problem."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise IngestError(f"{path}: unsupported file type (use {', '.join(sorted(SUFFIXES))})")
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(f"{path}: cannot read as UTF-8 text ({exc.__class__.__name__})") from exc
    if suffix == ".json":
        return _load_json(raw, path, audience)
    text = html_to_text(raw) if suffix in {".html", ".htm"} else raw
    title = _first_heading(text) or path.stem.replace("-", " ").replace("_", " ").title()
    return [Document(slugify(path.stem), title, text, path.name, audience)]


def _load_json(raw: str, path: Path, audience: Audience) -> list[Document]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise IngestError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    docs = []
    for n, item in enumerate(_json_articles(data, path)):
        title = str(item.get("title") or f"{path.stem} {n + 1}")
        doc_id = slugify(str(item.get("id") or title))
        docs.append(Document(doc_id, title, item["content"], path.name, audience))
    return docs


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Expand directories into supported files, sorted for a stable order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES)
        elif path.exists():
            yield path
        else:
            raise IngestError(f"{path}: no such file or directory")
