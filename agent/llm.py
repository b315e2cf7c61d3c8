"""OpenAI-compatible chat models behind a small factory, and the calls nodes make on them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from pydantic import BaseModel, SecretStr

from agent.metrics import ERRORS, LLM_IN_FLIGHT
from agent.settings import Settings

logger = logging.getLogger(__name__)

SchemaT = TypeVar("SchemaT", bound=BaseModel)


class LLMCallError(Exception):
    """A model call failed; ``code`` says how, for fallbacks and metrics (never text)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class ChatModelFactory(Protocol):
    """Gives a chat model for a run, or ``None`` when no LLM is configured."""

    def __call__(self, model: str | None = None, *, streaming: bool = True) -> BaseChatModel | None:
        """A model named ``model`` (or the default); ``streaming=False`` for JSON calls."""
        ...


class NoModel:
    """The embedded default: no model, so nodes take their deterministic paths."""

    def __call__(self, model: str | None = None, *, streaming: bool = True) -> BaseChatModel | None:
        """Always ``None``."""
        return None


class OpenAICompatibleModels:
    """``ChatOpenAI`` against any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._cache: dict[tuple[str, bool], BaseChatModel] = {}
        # One connection pool for every model: its size bounds the calls in flight per
        # process (``MAX_CONCURRENT_LLM_CALLS``); a call waits for a free connection, up to
        # the call timeout, then falls back like any other model failure.
        self._http = httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=settings.max_concurrent_llm_calls,
                max_keepalive_connections=settings.max_concurrent_llm_calls,
            ),
            timeout=settings.llm_timeout_s,
        )

    def __call__(self, model: str | None = None, *, streaming: bool = True) -> BaseChatModel | None:
        """Cached per model name and mode, so connection pools are reused across runs.

        Structured (JSON) calls use a non-streaming client: streamed structured output
        gains nothing and trips serializer warnings in the client library.
        """
        from langchain_openai import ChatOpenAI

        name = model or self._settings.llm_model
        if (name, streaming) not in self._cache:
            key = self._settings.llm_api_key or SecretStr("not-needed")
            self._cache[name, streaming] = ChatOpenAI(
                model=name,
                base_url=self._settings.llm_base_url,
                api_key=key,
                timeout=self._settings.llm_timeout_s,
                max_retries=self._settings.llm_max_retries,
                temperature=0,
                streaming=streaming,
                stream_usage=True,
                http_async_client=self._http,
            )
        return self._cache[name, streaming]


def model_factory(settings: Settings) -> ChatModelFactory:
    """The factory for the configured profile."""
    return OpenAICompatibleModels(settings) if settings.llm_enabled else NoModel()


def _error_code(exc: Exception) -> str:
    name = type(exc).__name__
    if "Timeout" in name:
        return "llm_timeout"
    if "Connection" in name:
        return "llm_unreachable"
    if isinstance(exc, ValueError) or any(k in name for k in ("Validation", "Parser", "JSON")):
        return "llm_malformed"
    if "Status" in name or "Server" in name or "API" in name:
        return "llm_http_error"
    return "llm_error"


async def structured(
    model: BaseChatModel, schema: type[SchemaT], messages: Sequence[BaseMessage]
) -> SchemaT:
    """Constrained JSON output (``json_schema``): small local models handle it reliably."""
    try:
        with LLM_IN_FLIGHT.track_inprogress():
            runnable = model.with_structured_output(schema, method="json_schema")
            result = await runnable.ainvoke(list(messages))
    except Exception as exc:  # any failure becomes a fallback, never a crash
        code = _error_code(exc)
        logger.warning("structured LLM call failed code=%s error=%s", code, type(exc).__name__)
        ERRORS.labels(type=code).inc()
        raise LLMCallError(code) from exc
    if not isinstance(result, schema):
        raise LLMCallError("llm_malformed")
    return result


async def stream_text(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    on_text: Callable[[str], None] | None = None,
) -> str:
    """Stream a completion (tokens surface through LangGraph's ``messages`` stream mode).

    ``on_text`` sees the text so far after every token (for release while writing).
    """
    parts: list[str] = []
    try:
        with LLM_IN_FLIGHT.track_inprogress():
            async for chunk in model.astream(list(messages)):
                if isinstance(chunk.content, str) and chunk.content:
                    parts.append(chunk.content)
                    if on_text is not None:
                        on_text("".join(parts).strip())
    except Exception as exc:  # any failure becomes a fallback, never a crash
        code = _error_code(exc)
        logger.warning("streaming LLM call failed code=%s error=%s", code, type(exc).__name__)
        ERRORS.labels(type=code).inc()
        raise LLMCallError(code) from exc
    text = "".join(parts).strip()
    if not text:
        raise LLMCallError("llm_empty")
    return text
