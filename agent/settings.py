"""Process-wide settings, read once from the environment (prefix ``SUPPORTFLOW_``)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TENANT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


def default_data_dir() -> Path:
    """Follow the XDG convention so data lands where users expect it."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "supportflow"


class Settings(BaseSettings):
    """Everything the process needs to pick its profile; nodes receive it, never the env."""

    model_config = SettingsConfigDict(env_prefix="SUPPORTFLOW_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    """Checkpoints, the knowledge base and the embedded business data live here."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    """Level for SupportFlow's own loggers; third-party loggers stay at WARNING."""
    tenant: str = Field(default="demo", pattern=TENANT_PATTERN)
    """Default tenant for the CLI; every store query is filtered on it."""

    llm_base_url: str | None = None
    """OpenAI-compatible endpoint; unset means the deterministic no-LLM mode."""
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=30.0, gt=0)
    llm_max_retries: int = Field(default=1, ge=0, le=5)
    llm_price_prompt_per_1k: float = Field(default=0.00015, ge=0)
    llm_price_completion_per_1k: float = Field(default=0.0006, ge=0)
    """US dollars per 1,000 tokens, for the cost-per-query estimate (defaults: gpt-4o-mini)."""

    guard_flag_at: float = Field(default=0.4, gt=0, lt=1)
    guard_block_at: float = Field(default=0.75, gt=0, le=1)
    """Input-guard score thresholds; blocked messages never reach a model or a tool."""
    max_input_chars: int = Field(default=4000, ge=1)
    """Longer messages are refused before any processing."""
    retrieval_k: int = Field(default=4, ge=1, le=50)
    min_retrieval_similarity: float = Field(default=0.45, ge=0, le=1)
    """Cosine similarity of the best passage below which an answer counts as unsupported."""
    reflection_max_retries: int = Field(default=1, ge=0, le=3)
    release_while_generating: bool = True
    """Stream a knowledge answer's sentences as the model writes them, each once it passes the
    output guard's checks and every content word is in the sources; off: the whole answer is
    checked before any of it is released."""
    reflection_review: Literal["always", "when_unsure"] = "when_unsure"
    """When reflection asks the model to review a draft that passed the deterministic checks:
    always, or only when the evidence is not conclusive (a draft whose every content word is
    in its sources, or whose every figure comes from a tool, is released without the extra
    model call)."""
    prompt_version: str = "v1"
    kb_auto_ingest: bool = True
    """Ingest the packaged demo help centre on first use when the store is empty."""

    orders_backend: Literal["embedded", "http"] = "embedded"
    orders_base_url: str | None = None
    orders_api_key: SecretStr | None = None
    backend_timeout_s: float = Field(default=5.0, gt=0)
    backend_retries: int = Field(default=2, ge=0, le=5)

    environment: Literal["development", "production"] = "development"
    """Production refuses generated secrets and the demo page."""
    token_secret: SecretStr | None = None
    """HMAC key for end-user tokens; generated and kept in the data dir in development."""
    demo: bool = True
    """Serve the demo page at ``/`` with a demo customer's token (never in production)."""
    max_body_bytes: int = Field(default=65_536, ge=1024)
    max_ingest_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    """Body limit for document uploads to ``/v1/ingest/jobs``."""
    cors_origins: list[str] = Field(default_factory=list)
    """Sites allowed to embed the widget (exact origins)."""

    rate_limit_per_key: str = "600/minute"
    rate_limit_per_customer: str = "60/minute"
    rate_limit_per_ip: str = "600/minute"
    """Sliding-window limits (``limits`` notation); over them a request gets 429 + Retry-After."""
    redis_url: str | None = None
    """Redis for stream buffers, rate limits, caches and locks; unset: in-process."""

    database_url: str | None = None
    """``postgresql://…`` for checkpoints and app data shared by replicas; unset: SQLite files."""
    db_pool_size: int = Field(default=10, ge=1, le=200)
    """Connections per process for each pool (checkpoints, app data)."""
    db_pool_timeout_s: float = Field(default=10.0, gt=0)
    """How long a query waits for a pooled connection or a new one before failing."""
    auto_migrate: bool = True
    """Apply app-database migrations at start-up (``supportflow db upgrade`` does it too)."""

    vector_store: Literal["lance", "weaviate"] = "lance"
    """Where the knowledge base lives: embedded LanceDB or a Weaviate server."""
    weaviate_url: str | None = None
    """Weaviate's HTTP address, e.g. ``http://weaviate:8080``."""
    weaviate_grpc_url: str | None = None
    """Weaviate's gRPC ``host:port``; defaults to the HTTP host on port 50051."""
    weaviate_api_key: SecretStr | None = None

    max_concurrent_runs: int = Field(default=24, ge=1, le=1000)
    """Graph runs executing at once in this process; more wait in the admission queue.

    Runs mostly wait on the model, so size it as expected peak rate × run time (the load
    test: ~8 turns/s per core × ~2.5 s); past it, CPU queueing only adds latency.
    """
    max_queued_runs: int = Field(default=64, ge=0, le=10_000)
    """Requests allowed to wait for a run slot; beyond this they get 503 + Retry-After."""
    queue_timeout_s: float = Field(default=10.0, gt=0)
    """Longest wait in the admission queue before a request is shed (nothing is stored)."""
    max_concurrent_llm_calls: int = Field(default=16, ge=1, le=1000)
    """Model calls in flight at once in this process."""

    online_eval_baseline: float = Field(default=0.75, gt=0, le=1)
    """Expected online score (``supportflow_eval_score_baseline``); calibrate from production."""
    online_eval_window: int = Field(default=200, ge=10, le=100_000)
    """Recent turns (and agent feedback) the online score averages over."""
    flags_refresh_s: float = Field(default=2.0, gt=0, le=60)
    """How often each replica reloads feature flags and the pinned release."""

    response_cache_ttl_s: int = Field(default=3600, ge=0)
    """Lifetime of cached knowledge answers; 0 turns the response cache off."""
    embedding_cache_ttl_s: int = Field(default=86_400, ge=0)
    """Lifetime of cached query embeddings in Redis; 0 keeps them in-process only."""

    canary_token: SecretStr = Field(
        default_factory=lambda: SecretStr(f"sf-canary-{secrets.token_hex(8)}")
    )
    """Planted in the system prompt; seeing it in output means the prompt leaked."""

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("SUPPORTFLOW_DATABASE_URL must be a postgresql:// URL")
        return value or None

    @model_validator(mode="after")
    def _weaviate_needs_url(self) -> Settings:
        if self.vector_store == "weaviate" and not self.weaviate_url:
            raise ValueError("VECTOR_STORE=weaviate needs SUPPORTFLOW_WEAVIATE_URL")
        return self

    @field_validator("llm_base_url", "orders_base_url", "weaviate_url", "redis_url")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _http_backend_needs_url(self) -> Settings:
        if self.orders_backend == "http" and not self.orders_base_url:
            raise ValueError("ORDERS_BACKEND=http needs SUPPORTFLOW_ORDERS_BASE_URL")
        return self

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Settings:
        if self.environment == "production":
            if self.token_secret is None or len(self.token_secret.get_secret_value()) < 32:
                raise ValueError("production needs SUPPORTFLOW_TOKEN_SECRET of 32+ characters")
            if self.demo:
                raise ValueError("set SUPPORTFLOW_DEMO=false in production")
        return self

    @property
    def llm_enabled(self) -> bool:
        """Whether an OpenAI-compatible endpoint is configured."""
        return self.llm_base_url is not None

    @property
    def checkpoint_path(self) -> Path:
        """SQLite file holding the graph checkpoints (conversation traces)."""
        return self.data_dir / "checkpoints.sqlite"

    @property
    def kb_path(self) -> Path:
        """LanceDB directory of the knowledge base."""
        return self.data_dir / "kb.lance"

    @property
    def app_db_url(self) -> str:
        """SQLAlchemy URL of the app database (threads, runs, keys)."""
        if self.database_url:
            rest = self.database_url.split("://", 1)[1]
            return f"postgresql+psycopg://{rest}"
        return f"sqlite+aiosqlite:///{self.data_dir / 'app.sqlite'}"

    @property
    def retail_db_path(self) -> Path:
        """SQLite file of the embedded order and account backend."""
        return self.data_dir / "retail.sqlite"
