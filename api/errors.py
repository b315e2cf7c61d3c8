"""One JSON error shape for every failure: ``{"detail": str, "code": str}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent.errors import (
    InvalidInputError,
    SupportFlowError,
    ThreadOwnershipError,
    UnknownCustomerError,
)
from agent.metrics import ERRORS
from agent.traces import TraceNotFoundError
from api.admission import OverloadedError
from api.auth import AuthError
from api.events import InvalidEventIdError, UnknownStreamError
from api.flags import FlagError
from api.handoffs import HandoffConflictError, HandoffNotFoundError
from api.ingest_jobs import IngestJobNotFoundError
from api.ratelimit import RateLimitedError
from api.runs import BusyThreadError, RunNotFoundError
from api.threads import InvalidFilterError, ThreadExistsError, ThreadNotFoundError

logger = logging.getLogger(__name__)

# (status, code, message); messages never echo request content.
_MAPPED: dict[type[Exception], tuple[int, str, str]] = {
    ThreadNotFoundError: (404, "thread_not_found", "thread not found"),
    ThreadOwnershipError: (404, "thread_not_found", "thread not found"),
    RunNotFoundError: (404, "run_not_found", "run not found"),
    UnknownStreamError: (404, "stream_not_found", "no stream for this run (finished and expired?)"),
    InvalidEventIdError: (400, "invalid_last_event_id", "Last-Event-ID was not issued by this run"),
    BusyThreadError: (409, "thread_busy", "thread has a run in progress; use multitask_strategy"),
    ThreadExistsError: (409, "thread_exists", "thread already exists"),
    HandoffNotFoundError: (404, "handoff_not_found", "handoff not found"),
    IngestJobNotFoundError: (404, "ingest_job_not_found", "ingest job not found"),
    TraceNotFoundError: (404, "trace_not_found", "no trace (or checkpoint) for this thread"),
    HandoffConflictError: (
        409,
        "handoff_conflict",
        "the handoff is not in a state that allows this (claimed by "
        "someone else, already closed, or the conversation is no longer waiting)",
    ),
    InvalidFilterError: (
        422,
        "invalid_filter",
        "metadata filters take strings, numbers or booleans",
    ),
    UnknownCustomerError: (403, "unknown_customer", "the signed-in customer is unknown"),
}


def error(status: int, code: str, detail: object) -> JSONResponse:
    """The error response."""
    return JSONResponse({"detail": detail, "code": code}, status_code=status)


def install(app: FastAPI) -> None:
    """Register handlers so no error escapes as an HTML page or a bare 500."""

    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        return error(exc.status, exc.code, str(exc))

    @app.exception_handler(RateLimitedError)
    async def _limited(_: Request, exc: RateLimitedError) -> JSONResponse:
        response = error(429, "rate_limited", f"too many requests per {exc.scope}; retry later")
        response.headers["Retry-After"] = str(exc.retry_after)
        response.headers["RateLimit-Limit"] = str(exc.limit.amount)
        response.headers["RateLimit-Remaining"] = "0"
        response.headers["RateLimit-Reset"] = str(exc.retry_after)
        return response

    @app.exception_handler(OverloadedError)
    async def _overloaded(_: Request, exc: OverloadedError) -> JSONResponse:
        response = error(
            503,
            "overloaded",
            "the assistant is busy and did not process this message; send it again later",
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        # A database restart or outage: the client may retry; nothing half-done was kept.
        logger.warning(
            "database unavailable path=%s error=%s", request.url.path, type(exc).__name__
        )
        ERRORS.labels(type="database_unavailable").inc()
        response = error(503, "database_unavailable", "storage is briefly unavailable; retry")
        response.headers["Retry-After"] = "2"
        return response

    for database_error in database_errors():
        app.add_exception_handler(database_error, _database)

    @app.exception_handler(FlagError)
    async def _flag(_: Request, exc: FlagError) -> JSONResponse:
        return error(422, "invalid_flag_change", str(exc))

    @app.exception_handler(InvalidInputError)
    async def _invalid(_: Request, exc: InvalidInputError) -> JSONResponse:
        return error(422, exc.code, str(exc))

    @app.exception_handler(SupportFlowError)
    async def _domain(_: Request, exc: SupportFlowError) -> JSONResponse:
        status, code, detail = _MAPPED.get(type(exc), (400, exc.code, str(exc)))
        return error(status, code, detail)

    for exc_type, (status, code, detail) in _MAPPED.items():
        if not issubclass(exc_type, SupportFlowError):
            app.add_exception_handler(exc_type, _fixed(status, code, detail))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return error(422, "invalid_request", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, "http_error", exc.detail)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error path=%s error=%s", request.url.path, type(exc).__name__)
        ERRORS.labels(type="unhandled").inc()
        return error(500, "internal_error", "internal error")


def database_errors() -> tuple[type[Exception], ...]:
    """Errors that mean "storage unreachable"; the Postgres driver is an optional extra."""
    found: list[type[Exception]] = [SQLAlchemyError]
    try:
        from psycopg import Error as PsycopgError
        from psycopg_pool import PoolTimeout
    except ImportError:
        return tuple(found)
    return (*found, PsycopgError, PoolTimeout)


def _fixed(status: int, code: str, detail: str):  # type: ignore[no-untyped-def]
    async def handler(_: Request, __: Exception) -> JSONResponse:
        return error(status, code, detail)

    return handler
