"""Start ``supportflow serve`` as a real process on a free loopback port, and stop it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

STARTUP_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cli_path() -> str:
    return shutil.which("supportflow") or f"{Path(sys.executable).parent}/supportflow"


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTFLOW_")}
    # Shared answers would make one test's outcome depend on another's; cache tests opt in.
    defaults = {"SUPPORTFLOW_DATA_DIR": str(data_dir), "SUPPORTFLOW_RESPONSE_CACHE_TTL_S": "0"}
    return env | defaults | extra


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    def create_key(self, role: str) -> str:
        out = subprocess.run(
            [cli_path(), "keys", "create", "--role", role],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return out.stdout.strip()


def log_tail(log: Path, lines: int = 20) -> list[str]:
    """The last lines of a server's log (none if it has not been written), so a failure says why."""
    if not log.is_file():
        return []
    return log.read_text(errors="replace").splitlines()[-lines:]


def _joined_tail(log: Path) -> str:
    return "\n".join(log_tail(log))


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll /readyz until the server answers (bounded; the first start builds the KB)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with {process.returncode}; log tail:\n{_joined_tail(log)}"
            )
        try:
            answer = httpx.get(f"{url}/readyz", timeout=2.0)
            if answer.status_code == 200:
                return
            last = f"/readyz {answer.status_code}: {answer.text[:300]}"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.2)
    raise TimeoutError(
        f"server did not become ready in {STARTUP_TIMEOUT_S:.0f} s ({last}); "
        f"log tail:\n{_joined_tail(log)}"
    )


@contextmanager
def live_server(data_dir: Path, *args: str, **env: str) -> Iterator[LiveServer]:
    """``supportflow serve`` on a free port (extra CLI ``args``, e.g. ``--workers 2``)."""
    port = free_port()
    full_env = clean_env(data_dir, **env)
    log_path = data_dir / "server.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [cli_path(), "serve", "--port", str(port), *args],
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        # Its own process group: a stop that must force also reaches ``--workers`` children.
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log_path)
        yield LiveServer(url, process, full_env)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@contextmanager
def live_server_with_model(data_dir: Path, **model: float) -> Iterator[LiveServer]:
    """A live server whose LLM is a fake OpenAI-compatible model (``ttft``, ``tps``, ``tokens``)."""
    from tests.fake_llm_server import FakeLLMServer

    llm = FakeLLMServer(**model).start()  # type: ignore[arg-type]
    try:
        with live_server(data_dir, SUPPORTFLOW_LLM_BASE_URL=llm.base_url) as live:
            yield live
    finally:
        llm.shutdown()
        llm.server_close()
