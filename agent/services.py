"""The infrastructure a run uses, bundled so nodes depend on protocols, not backends."""

from __future__ import annotations

from dataclasses import dataclass

from agent.cache import AnswerCache
from agent.guards.detector import InjectionDetector
from agent.intents import IntentClassifier
from agent.llm import ChatModelFactory
from agent.retrieval.embedder import Embedder
from agent.retrieval.store import VectorStore
from agent.settings import Settings
from tools.backends import AccountBackend, OrderBackend


@dataclass(frozen=True, slots=True)
class Services:
    """Built once per process by ``agent.bootstrap``; tests build their own."""

    settings: Settings
    embedder: Embedder
    store: VectorStore
    orders: OrderBackend
    accounts: AccountBackend
    models: ChatModelFactory
    intents: IntentClassifier
    detector: InjectionDetector
    answers: AnswerCache
    """Released knowledge answers, shared by replicas (never answers built from customer data)."""
