"""Deterministic routing signals: explicit patterns first, then similarity to exemplars."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import numpy as np

from agent.retrieval.embedder import Embedder, Vectors
from agent.state import Route
from tools.retail import ORDER_ID

_HUMAN = re.compile(
    r"\b(human|real person|live (agent|person|chat)|representative|someone (real|to talk)"
    r"|(reach|contact|get|need) (me )?(an? |some )?(person|human|agent|someone)"
    r"|speak (to|with) (an? )?(agent|person|someone|manager|supervisor)|talk to (an? )?"
    r"(agent|person|someone|manager|supervisor)|operator)\b",
    flags=re.IGNORECASE,
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b")
_MY_ORDER = re.compile(
    r"\b(where('?s| is) my (order|package|parcel|stuff)|track(ing)? (my )?(order|package)"
    r"|status of my (order|orders|package)|my (recent |last |latest )?orders?\b.{0,30}"
    r"\b(status|arrive|shipped|deliver|track))",
    flags=re.IGNORECASE,
)
_MY_ACCOUNT = re.compile(
    r"\b(my (account|profile|default address|address on file|payment methods?|gift card balance"
    r"|saved cards?)|account status|what('?s| is) my (email|address))\b",
    flags=re.IGNORECASE,
)

# Tools act on the customer's own orders and account; a question that never refers to them
# ("How long does delivery take?") is about the store's policies, whatever it resembles.
_PERSONAL = re.compile(
    r"\b(my|mine|i (ordered|bought|placed|paid|purchased|received)|i've (ordered|bought))\b",
    flags=re.IGNORECASE,
)

# Chosen from the exemplar scores of typical messages; below either, the model (if any) decides.
DECISIVE_SCORE = 0.6
DECISIVE_MARGIN = 0.15

EXEMPLARS: dict[Route, tuple[str, ...]] = {
    "knowledge": (
        "How do I return an item?",
        "What is your refund policy?",
        "How long does a refund take?",
        "Can I cancel an order?",
        "Which payment methods do you accept?",
        "How do I reset my password?",
        "How can I change the shipping address of an order?",
        "Can I exchange a product for a different size?",
        "What does processed status mean?",
        "How do gift cards work?",
    ),
    "order_status": (
        "Where is my order?",
        "Has my package shipped yet?",
        "When will my order arrive?",
        "What is the tracking number for my order?",
    ),
    "account": (
        "What payment methods are saved on my account?",
        "What is my default shipping address?",
        "Show me my profile.",
        "What's the balance on my gift card?",
    ),
    "out_of_scope": (
        "Write me a poem about the sea.",
        "What's the weather tomorrow?",
        "Who won the football match last night?",
        "Help me with my math homework.",
        "Tell me a joke.",
        "What is the capital of France?",
        "Write Python code to sort a list.",
    ),
}


@dataclass(frozen=True, slots=True)
class RouteSignal:
    """A routing decision with its evidence."""

    route: Route
    order_ids: tuple[str, ...]
    confidence: float
    reason: str
    margin: float = 1.0
    """Lead over the runner-up route (exemplar decisions only)."""

    @property
    def decisive(self) -> bool:
        """Close to a route's exemplars and clearly ahead of the others: no model needed."""
        return self.confidence >= DECISIVE_SCORE and self.margin >= DECISIVE_MARGIN


def order_ids_in(text: str) -> tuple[str, ...]:
    """Order ids mentioned in the message, normalised and de-duplicated, in order."""
    seen = dict.fromkeys(f"#{m.upper()}" for m in ORDER_ID.findall(text))
    return tuple(seen)


_FOLLOW_UP = re.compile(r"\b(it|this|that)( order)?\b", flags=re.IGNORECASE)


def follow_up_signal(text: str, previous_answer: str) -> RouteSignal | None:
    """A follow-up ("can I still cancel it?") right after an answer about one order."""
    ids = order_ids_in(previous_answer)
    if len(ids) == 1 and _FOLLOW_UP.search(text) and not _HUMAN.search(text):
        return RouteSignal("order_status", ids, 0.8, "follow_up_order")
    return None


def explicit_signal(text: str) -> RouteSignal | None:
    """Patterns that decide the route outright, checked in priority order."""
    ids = order_ids_in(text)
    if _HUMAN.search(text):
        return RouteSignal("human", ids, 1.0, "asked_for_human")
    if ids:
        return RouteSignal("order_status", ids, 1.0, "order_id")
    if _MY_ORDER.search(text):
        return RouteSignal("order_status", (), 0.9, "my_order_phrase")
    if _MY_ACCOUNT.search(text) or _EMAIL.search(text):
        return RouteSignal("account", (), 0.9, "account_phrase")
    return None


class IntentClassifier:
    """Nearest-exemplar intent by cosine similarity (mean of the top two per route).

    A human is never chosen by similarity: handing off needs an explicit ask.
    """

    OUT_OF_SCOPE_MARGIN = 0.05

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._lock = threading.Lock()
        self._matrix: dict[Route, Vectors] | None = None

    def _exemplars(self) -> dict[Route, Vectors]:
        with self._lock:
            if self._matrix is None:
                self._matrix = {r: self._embedder.embed(list(t)) for r, t in EXEMPLARS.items()}
            return self._matrix

    def scores(self, text: str) -> dict[Route, float]:
        """Similarity of the message to each route's exemplars."""
        query = self._embedder.embed([text])[0]
        out: dict[Route, float] = {}
        for route, matrix in self._exemplars().items():
            sims = np.sort(matrix @ query)[::-1]
            out[route] = float(sims[:2].mean())
        return out

    def classify(self, text: str) -> RouteSignal:
        """Knowledge unless another route is clearly closer; support questions are the norm."""
        scores = self.scores(text)
        best = max(scores, key=lambda r: scores[r])
        if best == "out_of_scope" and scores[best] - scores["knowledge"] < self.OUT_OF_SCOPE_MARGIN:
            best = "knowledge"
        ranked = sorted(scores.values(), reverse=True)
        margin = ranked[0] - ranked[1]
        if best in ("order_status", "account") and not _PERSONAL.search(text):
            return RouteSignal("knowledge", (), scores["knowledge"], "policy_question", margin)
        return RouteSignal(best, (), scores[best], f"exemplar_{best}", margin)
