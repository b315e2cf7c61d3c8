"""A fake OpenAI-compatible server on loopback with a configurable TTFT and token rate.

It answers like a well-behaved model: structured calls (``response_format``) get a routing or
review JSON, and chat completions stream the first fenced passage of the prompt back word by
word with its citation marker, so answers are grounded and pass reflection.

Run: ``python -m tests.fake_llm_server --port 8765 --ttft 0.2 --tps 50 --tokens 100``.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PASSAGE = re.compile(r'<passage id=\\?"([^"\\]+)\\?"[^>]*>\\n(.*?)\\n</passage>', re.S)
_FILLER = "Thanks for asking; our help centre covers this."
INVENT = "(plus a made-up claim)"
"""Put this in a question and the answer ends with a claim no source supports (reflection
rejects it after its first sentences were released)."""
_INVENTED = "Refunds are instant, free and paid in gold everywhere."


def answer_words(body: dict[str, Any], tokens: int) -> list[str]:
    """Words of the first passage (plus its citation), padded or cut to ``tokens``."""
    prompt = json.dumps(body.get("messages", []))
    found = PASSAGE.search(prompt)
    text = found.group(2).replace("\\n", " ") if found else _FILLER
    text = re.sub(r"^#+ [^.]*?(?= [A-Z])", "", text).strip()
    words = text.split()
    while len(words) < tokens:
        words += words
    words = words[:tokens]
    if found:
        words[-1] = f"{words[-1].rstrip('.')}. [{found.group(1)}]"
    if INVENT in prompt:
        words += _INVENTED.split()
    return [w + " " for w in words]


def structured_reply(body: dict[str, Any]) -> dict[str, Any]:
    """Routing says knowledge; reviews approve."""
    schema = json.dumps(body.get("response_format", {}))
    if "manipulation" in schema:
        return {"manipulation": False, "confidence": 0.9}
    if "grounded" in schema:
        return {"grounded": True, "answers_question": True, "within_policy": True, "feedback": "ok"}
    return {"route": "knowledge", "confidence": 0.9}


def _chunk(content: str | None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    payload = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload)}\n\n".encode()


class Handler(BaseHTTPRequestHandler):
    """Serves ``/v1/models`` and ``/v1/chat/completions``."""

    server: FakeLLMServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        """Model list, for reachability checks."""
        self._json({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    def do_POST(self) -> None:
        """A completion, streamed or not."""
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        self.server.requests += 1
        time.sleep(self.server.ttft)
        if body.get("response_format"):
            content = json.dumps(structured_reply(body))
            self._json(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "fake",
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": content},
                        }
                    ],
                }
            )
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        for word in answer_words(body, self.server.tokens):
            self.wfile.write(_chunk(word))
            self.wfile.flush()
            time.sleep(1.0 / self.server.tps)
        self.wfile.write(_chunk(None, "stop") + b"data: [DONE]\n\n")

    def _json(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeLLMServer(ThreadingHTTPServer):
    """Threaded server; ``start()`` runs it in the background."""

    daemon_threads = True

    def __init__(self, port: int = 0, ttft: float = 0.05, tps: float = 200.0, tokens: int = 40):
        super().__init__(("127.0.0.1", port), Handler)
        self.ttft, self.tps, self.tokens, self.requests = ttft, tps, tokens, 0

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def start(self) -> FakeLLMServer:
        """Serve in a daemon thread."""
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--ttft", type=float, default=0.2)
    parser.add_argument("--tps", type=float, default=50.0)
    parser.add_argument("--tokens", type=int, default=100)
    args = parser.parse_args()
    FakeLLMServer(args.port, args.ttft, args.tps, args.tokens).serve_forever()


if __name__ == "__main__":
    main()
