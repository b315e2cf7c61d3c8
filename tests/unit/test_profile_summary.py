"""The profiler's summary: busy samples by function, waiting threads reported apart."""

from __future__ import annotations

from benchmarks.peers.profile import summarise

COLLAPSED = "\n".join(
    [
        "thread (1): MainThread;run (uvicorn/main.py:10);stream_text (agent/llm.py:140) 6",
        "thread (1): MainThread;run (uvicorn/main.py:10);dumps (api/serde.py:40) 3",
        "thread (1): MainThread;run (uvicorn/main.py:12);dumps (api/serde.py:41) 1",
        "thread (7): Thread-2;Thread.run (threading.py:982);"
        "_connection_worker_thread (aiosqlite/core.py:59) 30",
        "not a sample line",
    ]
)


def test_waiting_threads_are_not_counted_as_work() -> None:
    profile = summarise(COLLAPSED)
    assert profile.samples == 10
    assert profile.waiting == 30


def test_own_and_inclusive_shares_merge_line_numbers() -> None:
    profile = summarise(COLLAPSED)
    own = dict(profile.own)
    assert own["stream_text (agent/llm.py)"] == 0.6
    assert own["dumps (api/serde.py)"] == 0.4
    assert dict(profile.inclusive)["run (uvicorn/main.py)"] == 1.0
