"""Memory of a process that only serves searches: open a store, run the queries, report RSS.

    python -m benchmarks.retrieval_serve STORE_DIR QUERIES.npz

Run by the retrieval benchmark in a fresh interpreter, so the figure holds the store's
caches and the libraries it needs, without the benchmark's own corpus and model. Prints JSON.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from agent.retrieval.lance import LanceStore
from benchmarks.retrieval_latency import AUDIENCES, TENANT, K


def rss_mb() -> float:
    """Resident set size from /proc (0 where it is missing)."""
    statm = Path("/proc/self/statm")
    if not statm.exists():
        return 0.0
    return int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def serve(store_dir: Path, queries: Path) -> dict[str, float]:
    """RSS after imports, after opening the store, and after every query ran twice."""
    with np.load(queries, allow_pickle=False) as data:
        texts, vectors = data["texts"].tolist(), data["vectors"]
    report = {"imports_mb": rss_mb()}
    store = LanceStore(store_dir, vectors.shape[1])
    report["opened_mb"] = rss_mb()
    for _ in range(2):
        for text, vector in zip(texts, vectors, strict=True):
            store.search(TENANT, text, vector, K, AUDIENCES)
    report["served_mb"] = rss_mb()
    return report


if __name__ == "__main__":
    print(json.dumps(serve(Path(sys.argv[1]), Path(sys.argv[2]))))
