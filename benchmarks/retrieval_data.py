"""Texts for the retrieval benchmark: banking tasks as customer messages, queries, variants.

The banking knowledge base (``../shared/data/kb/banking``, from tau2-bench) has documents and
tasks; each task's ``required_documents`` are the ground truth for recall and MRR. The tasks
are role-play instructions for a simulated customer, so the customer's opening message is
derived from them (the situation, or what the customer is told to start by saying), in the
first person. Synthetic stores for the latency benchmark are made of numbered variants of
real documents: synonyms swapped, numbers changed, sentences reordered, a plan code added.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from agent.retrieval.loaders import Document, slugify

BANKING_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kb" / "banking"
MAX_MESSAGE_CHARS = 600

_OPENING = re.compile(r'\*\*Opening[^*]*\*\*[^"\n]*"(.+?)"', re.S)
_SECTION = re.compile(r"\*\*Your (?:situation|goal):\*\*\s*(.+?)(?=\n\s*\n|\*\*|\Z)", re.S)
_START = re.compile(
    r"start (?:by|the conversation by) (?:saying|asking|telling the agent|explaining)"
    r"(?: that)? (.+?)(?:\.\s|\n|$)",
    re.I,
)
_OBJECT_VERBS = (
    "to|help|helps|give|gives|tell|told|for|with|ask|asks|asked|send|let|call|contact|charged"
)
_PRONOUNS = [
    (rf"\b({_OBJECT_VERBS}) you\b", r"\1 me"),
    (r"\byou're\b", "I'm"),
    (r"\byou've\b", "I've"),
    (r"\byou'll\b", "I'll"),
    (r"\byourself\b", "myself"),
    (r"\byours\b", "mine"),
    (r"\byour\b", "my"),
    (r"\byou\b", "I"),
    (r"\bI are\b", "I am"),
    (r"\bI were\b", "I was"),
]
SYNONYMS = [
    ("customer", "client"),
    ("fee", "charge"),
    ("purchase", "transaction"),
    ("verify", "confirm"),
    ("eligible", "qualified"),
    ("request", "application"),
    ("account", "acct"),
    ("order", "purchase"),
    ("refund", "reimbursement"),
    ("card", "card"),
    ("balance", "amount owed"),
    ("agent", "representative"),
    ("monthly", "per month"),
    ("must", "needs to"),
]
LATENCY_QUESTIONS = [
    "How do I return an item I bought last week?",
    "When will I get my refund?",
    "Can I cancel an order that has not shipped yet?",
    "How do I change the shipping address on my order?",
    "What is the annual fee on the Gold Rewards Card?",
    "My debit card was stolen, how do I lock it?",
    "Why was my card declined at the ATM?",
    "How much cash back do I earn on groceries?",
    "How do I dispute a charge I do not recognise?",
    "What is the interest rate on a savings account?",
    "Can I exchange a delivered item for a different size?",
    "How do I open a business checking account?",
    "What are the foreign transaction fees when I travel?",
    "How long does a direct deposit take to show up?",
    "Can I get my overdraft fee waived?",
    "How do I refer a friend and get the bonus?",
    "I forgot my PIN, what should I do?",
    "How do I increase my credit limit?",
    "Can I pay with a gift card and a credit card together?",
    "How do I talk to a human agent?",
]


@dataclass(frozen=True, slots=True)
class Task:
    """A banking task: the customer's opening message and the documents a good agent needs."""

    id: str
    message: str
    required: frozenset[str]
    """Document ids as the loader slugifies them, so they match ``Chunk.doc_id``."""


def first_person(text: str) -> str:
    """Turn instructions addressed to the customer ("you", "your") into the customer's words."""
    for pattern, repl in _PRONOUNS:
        text = re.sub(pattern, repl, text, flags=re.I)
    return text[:1].upper() + text[1:]


def customer_message(instructions: str) -> str:
    """What the customer would say first: the scripted opening, else the situation."""
    opening = _OPENING.search(instructions)
    if opening:
        return " ".join(opening.group(1).split())[:MAX_MESSAGE_CHARS]
    start = _START.search(instructions)
    sections = _SECTION.findall(instructions)
    if start:
        text = start.group(1)
    elif sections:
        text = sections[0]
    else:
        paragraphs = [p.strip() for p in instructions.split("\n\n") if p.strip()]
        text = paragraphs[1] if len(paragraphs) > 1 else paragraphs[0]
    return first_person(" ".join(text.split()))[:MAX_MESSAGE_CHARS]


def banking_tasks(banking_dir: Path) -> list[Task]:
    """Tasks that name at least one required document."""
    raw = json.loads((banking_dir / "tasks.json").read_text(encoding="utf-8"))
    tasks = []
    for item in raw:
        required = frozenset(slugify(d) for d in item.get("required_documents") or [])
        if required:
            message = customer_message(item["user_scenario"]["instructions"])
            tasks.append(Task(item["id"], message, required))
    return tasks


def _swap_synonyms(text: str, rng: random.Random) -> str:
    for word, other in SYNONYMS:
        if rng.random() < 0.4:
            text = re.sub(rf"\b{word}\b", other, text)
    return text


def _change_numbers(text: str, rng: random.Random) -> str:
    def bump(match: re.Match[str]) -> str:
        value = int(match.group(0))
        return str(max(1, value + rng.randint(-value // 2 - 1, value // 2 + 1)))

    return re.sub(r"(?<![#\w])\d{1,5}(?![\w])", bump, text)


def _shuffle_sentences(paragraph: str, rng: random.Random) -> str:
    if paragraph.startswith(("#", "-", "*")) or re.match(r"\d+\.", paragraph):
        return paragraph
    sentences = re.split(r"(?<=[.!?])\s+", paragraph)
    if len(sentences) > 2 and rng.random() < 0.5:
        rng.shuffle(sentences)
    return " ".join(sentences)


def variant(doc: Document, number: int, rng: random.Random) -> Document:
    """A numbered variant of a document that reads like another edition of it."""
    code = f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.randint(100, 9999)}"
    body = "\n\n".join(_shuffle_sentences(p, rng) for p in doc.text.split("\n\n"))
    body = _change_numbers(_swap_synonyms(body, rng), rng)
    body = f"{body}\n\nThis edition applies to plan {code} (revision {number})."
    title = f"{doc.title} (plan {code})"
    return replace(doc, doc_id=f"{doc.doc_id[:100]}-v{number}", title=title, text=body)


def variants(base: Sequence[Document], seed: int) -> Iterator[tuple[int, Document]]:
    """Originals first, then endless numbered variants; yields (index of the base, document)."""
    rng = random.Random(seed)
    order = list(range(len(base)))
    rng.shuffle(order)
    yield from ((i, base[i]) for i in order)
    number = 0
    while True:
        rng.shuffle(order)
        for i in order:
            number += 1
            yield i, variant(base[i], number, rng)
