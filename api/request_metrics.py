"""Request latency by route template, measured until the response body is fully sent."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.metrics import REQUEST_DURATION


class RequestMetricsMiddleware:
    """Pure ASGI, so streamed responses are timed to their last byte without buffering."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time one HTTP request; the label is the matched route, never the raw path."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            REQUEST_DURATION.labels(
                method=scope.get("method", "GET"),
                route=_route_label(scope),
                status=f"{status['code'] // 100}xx",
            ).observe(time.perf_counter() - started)


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
