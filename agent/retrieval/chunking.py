"""Split documents into heading-aligned chunks with content-hash ids."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from agent.retrieval.loaders import Document
from agent.retrieval.store import Chunk

MAX_CHARS = 900
_HEADING = re.compile(r"^(#{1,3})\s+(.+)$", flags=re.MULTILINE)


def chunk_id(tenant: str, doc_id: str, text: str) -> str:
    """Content address: the same text in the same document always gets the same id."""
    digest = hashlib.sha256(f"{tenant}\0{doc_id}\0{text}".encode()).hexdigest()
    return f"{doc_id[:40]}:{digest[:16]}"


def _sections(text: str) -> Iterator[tuple[str | None, str]]:
    """Yield (heading, body) pairs; text before the first heading has no heading."""
    matches = list(_HEADING.finditer(text))
    if not matches:
        yield None, text
        return
    yield None, text[: matches[0].start()]
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        yield match.group(2).strip(), text[match.end() : end]


def _pieces(body: str) -> Iterator[str]:
    """Pack paragraphs into pieces of at most ``MAX_CHARS`` (a long paragraph stays whole)."""
    current = ""
    for para in (p.strip() for p in re.split(r"\n\s*\n", body)):
        if not para:
            continue
        if current and len(current) + len(para) + 2 > MAX_CHARS:
            yield current
            current = para
        else:
            current = f"{current}\n\n{para}" if current else para
    if current:
        yield current


def chunk_document(doc: Document, tenant: str) -> list[Chunk]:
    """Chunks whose text starts with their section heading, for retrieval and citations."""
    chunks: list[Chunk] = []
    for heading, body in _sections(doc.text):
        if heading == doc.title:
            heading = None
        for piece in _pieces(body):
            text = f"## {heading}\n{piece}" if heading else piece
            chunks.append(
                Chunk(
                    id=chunk_id(tenant, doc.doc_id, text),
                    doc_id=doc.doc_id,
                    tenant=tenant,
                    audience=doc.audience,
                    title=doc.title,
                    source=doc.source,
                    text=text,
                )
            )
    return chunks
