"""Typed errors with messages a user can act on; the CLI and API map them to exits and 4xx."""

from __future__ import annotations


class SupportFlowError(Exception):
    """Base of every error we raise on purpose; ``code`` is stable for clients and metrics."""

    code = "supportflow_error"
    exit_code = 1


class InvalidInputError(SupportFlowError):
    """The customer's message cannot be processed as given."""

    code = "invalid_input"
    exit_code = 2


class UnknownCustomerError(SupportFlowError):
    """The customer id does not exist in the account backend."""

    code = "unknown_customer"
    exit_code = 2


class ThreadOwnershipError(SupportFlowError):
    """A conversation is being continued by a different customer than the one who began it."""

    code = "thread_forbidden"
    exit_code = 2


class KnowledgeBaseMissingError(SupportFlowError):
    """No knowledge base exists and automatic ingestion is off."""

    code = "kb_missing"
    exit_code = 3


class LLMUnavailableError(SupportFlowError):
    """The configured model endpoint cannot be reached or answered unusably."""

    code = "llm_unavailable"
    exit_code = 3


class BackendError(SupportFlowError):
    """A business backend (orders, accounts) failed after retries."""

    code = "backend_unavailable"
    exit_code = 3


class IngestError(SupportFlowError):
    """A document could not be read or parsed for ingestion."""

    code = "ingest_failed"
    exit_code = 2


class VectorStoreUnavailableError(SupportFlowError):
    """The knowledge-base server (Weaviate) could not be reached, timed out, or refused."""

    code = "vector_store_unavailable"
    exit_code = 3


class ChunkWriteError(SupportFlowError):
    """The knowledge-base server rejected some chunks of a batch; the others were stored."""

    code = "chunk_write_failed"
    exit_code = 3

    def __init__(self, failures: dict[str, str]) -> None:
        first = next(iter(failures.values()), "")
        super().__init__(f"the vector store rejected {len(failures)} chunk(s), e.g. {first}")
        self.failures = failures
        """Chunk id to the server's reason, for every rejected chunk."""
