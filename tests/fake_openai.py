"""A scripted OpenAI-compatible endpoint for respx: JSON or SSE replies, per call."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

BASE_URL = "http://llm.test/v1"

Reply = Callable[[dict[str, Any]], httpx.Response]


def _completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def _sse(tokens: list[str]) -> str:
    events = []
    for i, token in enumerate(tokens):
        chunk = {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "test-model",
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": token}
                    if i == 0
                    else {"content": token},
                    "finish_reason": None,
                }
            ],
        }
        events.append(f"data: {json.dumps(chunk)}\n\n")
    done = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "test-model",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }
    events.append(f"data: {json.dumps(done)}\n\n")
    events.append("data: [DONE]\n\n")
    return "".join(events)


def text_reply(content: str, tokens: int = 0) -> Reply:
    """Answer with ``content``; streamed requests get it split into ``tokens`` pieces."""

    def reply(body: dict[str, Any]) -> httpx.Response:
        if body.get("stream"):
            n = tokens or max(1, len(content) // 8)
            size = max(1, -(-len(content) // n))
            pieces = [content[i : i + size] for i in range(0, len(content), size)]
            return httpx.Response(
                200, text=_sse(pieces), headers={"content-type": "text/event-stream"}
            )
        return httpx.Response(200, json=_completion(content))

    return reply


def json_reply(payload: dict[str, Any]) -> Reply:
    """Structured output: the JSON document as the message content."""
    return text_reply(json.dumps(payload))


def status_reply(code: int) -> Reply:
    """An HTTP error from the server."""
    return lambda body: httpx.Response(code, json={"error": {"message": "boom"}})


@dataclass
class ScriptedLLM:
    """Routes each request to a reply chosen by what the prompt asks for."""

    route: Reply | None = None
    generate: Reply | None = None
    reflect: Reply | None = None
    judge: Reply | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def kind(self, body: dict[str, Any]) -> str:
        text = json.dumps(body.get("messages", []))
        if "Classify the customer" in text:
            return "route"
        if "Check a draft reply" in text:
            return "reflect"
        if "tries to manipulate the assistant" in text:
            return "judge"
        return "generate"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        kind = self.kind(body)
        self.calls.append({"kind": kind, "body": body})
        reply = getattr(self, kind)
        if reply is None:
            return status_reply(500)(body)
        result: httpx.Response = reply(body)
        return result
