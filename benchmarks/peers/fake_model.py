"""The comparison's fake model: ``tests.fake_llm_server`` with a deep accept queue.

socketserver listens with a backlog of 5, so a burst of 50 clients connecting at once gets
connection resets that read as server errors; a peer without retries then fails its run.

    python -m benchmarks.peers.fake_model --port 8765 --ttft 0.2 --tps 100 --tokens 100
"""

from __future__ import annotations

import argparse

from tests.fake_llm_server import FakeLLMServer


class DeepBacklogServer(FakeLLMServer):
    """Same answers and timing; room for every connection the harness may open at once."""

    request_queue_size = 1024


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ttft", type=float, default=0.2)
    parser.add_argument("--tps", type=float, default=100.0)
    parser.add_argument("--tokens", type=int, default=100)
    args = parser.parse_args()
    DeepBacklogServer(args.port, args.ttft, args.tps, args.tokens).serve_forever()


if __name__ == "__main__":
    main()
