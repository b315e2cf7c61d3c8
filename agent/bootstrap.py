"""Build the process's ``Services`` for the configured profile."""

from __future__ import annotations

import logging

from agent.cache import AnswerCache, EmbeddingCache
from agent.errors import KnowledgeBaseMissingError
from agent.guards.detector import InjectionDetector, Thresholds
from agent.intents import IntentClassifier
from agent.llm import model_factory
from agent.retrieval.embedder import CachedEmbedder, Embedder, MiniLMEmbedder
from agent.retrieval.ingest import IngestReport, Progress, demo_documents, ingest_documents
from agent.retrieval.lance import LanceStore
from agent.retrieval.store import VectorStore
from agent.services import Services
from agent.settings import Settings
from tools.embedded import EmbeddedRetailBackend
from tools.http import HttpRetailBackend

logger = logging.getLogger(__name__)


def retail_backend(settings: Settings) -> EmbeddedRetailBackend | HttpRetailBackend:
    """The order/account backend the settings ask for."""
    if settings.orders_backend == "http" and settings.orders_base_url:
        key = settings.orders_api_key.get_secret_value() if settings.orders_api_key else None
        return HttpRetailBackend(
            settings.orders_base_url,
            api_key=key,
            timeout_s=settings.backend_timeout_s,
            retries=settings.backend_retries,
        )
    return EmbeddedRetailBackend(settings.retail_db_path)


def ensure_knowledge_base(
    settings: Settings,
    embedder: Embedder,
    store: VectorStore,
    progress: Progress | None = None,
    detector: InjectionDetector | None = None,
) -> IngestReport | None:
    """Ingest the packaged demo help centre when the tenant has no documents yet."""
    if store.count(settings.tenant) > 0:
        return None
    if not settings.kb_auto_ingest:
        raise KnowledgeBaseMissingError(
            f"no knowledge base for tenant {settings.tenant!r} in {settings.kb_path}; "
            "run `supportflow ingest PATH` or set SUPPORTFLOW_KB_AUTO_INGEST=true"
        )
    logger.info("ingesting demo knowledge base tenant=%s", settings.tenant)
    return ingest_documents(
        demo_documents(),
        tenant=settings.tenant,
        embedder=embedder,
        store=store,
        progress=progress,
        detector=detector,
    )


def knowledge_store(settings: Settings, dim: int) -> VectorStore:
    """Embedded LanceDB, or the shared Weaviate server of the production profile."""
    if settings.vector_store == "weaviate":
        from agent.retrieval.weaviate_store import WeaviateStore, connect_weaviate

        assert settings.weaviate_url is not None  # enforced by Settings
        key = settings.weaviate_api_key.get_secret_value() if settings.weaviate_api_key else None
        client = connect_weaviate(
            settings.weaviate_url, settings.weaviate_grpc_url, key, settings.backend_timeout_s
        )
        return WeaviateStore(client, dim)
    return LanceStore(settings.kb_path, dim)


def shared_vectors(settings: Settings, model_id: str) -> EmbeddingCache | None:
    """The Redis embedding cache when Redis is configured and the TTL is positive."""
    if not settings.redis_url or settings.embedding_cache_ttl_s <= 0:
        return None
    return EmbeddingCache(settings.redis_url, settings.embedding_cache_ttl_s, model_id)


def build_services(settings: Settings, progress: Progress | None = None) -> Services:
    """Everything a run needs; ingestion of the demo KB happens here on first use."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    model = MiniLMEmbedder()
    embedder = CachedEmbedder(model, shared=shared_vectors(settings, model.model_id))
    store = knowledge_store(settings, embedder.dim)
    detector = InjectionDetector(embedder, guard_thresholds(settings))
    # The packaged demo content is ours (trusted); `supportflow ingest` scans what users add.
    ensure_knowledge_base(settings, embedder, store, progress)
    backend = retail_backend(settings)
    return Services(
        settings=settings,
        embedder=embedder,
        store=store,
        orders=backend,
        accounts=backend,
        models=model_factory(settings),
        intents=IntentClassifier(embedder),
        detector=detector,
        answers=AnswerCache(settings.redis_url, settings.response_cache_ttl_s),
    )


def guard_thresholds(settings: Settings) -> Thresholds:
    """Verdict cut-offs from settings (the classifiers carry their own calibration)."""
    return Thresholds(flag_at=settings.guard_flag_at, block_at=settings.guard_block_at)


async def close_services(services: Services) -> None:
    """Release network clients (Weaviate, Redis); the embedded profile holds none."""
    await services.answers.aclose()
    for holder in (services.store, services.embedder):
        close = getattr(holder, "close", None)
        if callable(close):
            close()
