"""Retrieval speed and quality: ingestion, search p50/p95 at 1k/10k/100k chunks, recall and MRR.

    python -m benchmarks.retrieval [--sizes 1000,10000,100000] [--banking-dir DIR]

Stores are built from the help centre, the agent guidelines and the banking documents, plus
numbered variants of them; the large stores reuse real MiniLM vectors with noise added
(``benchmarks.retrieval_vectors``), and the embedder's own cost is measured on a sample.
Real vectors are cached in ``benchmarks/.cache`` (``--no-cache`` recomputes them). Weaviate
runs when ``WEAVIATE_URL`` is set; the quality part when the banking data set is present.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from agent.retrieval.chunking import chunk_document
from agent.retrieval.embedder import Embedder, MiniLMEmbedder
from agent.retrieval.ingest import demo_documents, load_paths
from agent.retrieval.loaders import Document
from benchmarks.retrieval_data import BANKING_DIR, LATENCY_QUESTIONS, banking_tasks
from benchmarks.retrieval_latency import (
    Query,
    measure_per_document_store,
    measure_size,
    percentiles,
)
from benchmarks.retrieval_quality import measure_quality
from benchmarks.retrieval_report import print_report, verdict
from benchmarks.retrieval_vectors import (
    CACHE_DIR,
    DiskCachedEmbedder,
    SyntheticCorpus,
    embed_text,
    synthetic_corpus,
)
from benchmarks.retrieval_weaviate import WeaviateTarget, measure_weaviate_size

RESULTS = Path(__file__).parent / "results" / "retrieval.json"
SPARE_CHUNKS = 200
"""Chunks generated past the largest size, for the incremental-ingestion sample."""


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """What to run; the defaults are the published run."""

    sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    repeats: int = 2
    banking_dir: Path = BANKING_DIR
    max_tasks: int | None = None
    max_quality_documents: int | None = None
    max_queries: int | None = None
    throughput_sample: int = 96
    per_document_chunks: int = 1_000
    weaviate: WeaviateTarget | None = None
    weaviate_max_chunks: int = 100_000
    seed: int = 7


def base_documents(banking_dir: Path) -> list[Document]:
    """Help centre and guidelines, plus the banking documents when present.

    Banking documents titled "Internal: ..." are for agents; the rest are customer-facing.
    """
    docs = demo_documents()
    if (banking_dir / "documents").is_dir():
        for doc in load_paths([banking_dir / "documents"]):
            internal = doc.title.lower().startswith("internal")
            docs.append(replace(doc, audience="agent" if internal else "customer"))
    return docs


def embedder_cost(model: Embedder, docs: Sequence[Document], sample: int) -> dict[str, Any]:
    """Model throughput on a sample of real chunks, and one uncached question's latency."""
    texts = [embed_text(c.title, c.text) for d in docs for c in chunk_document(d, "x")]
    picked = random.Random(0).sample(texts, min(sample, len(texts)))
    model.embed(["warm up the model"])
    started = time.perf_counter()
    model.embed(picked)
    seconds = time.perf_counter() - started
    times = []
    for question in LATENCY_QUESTIONS:
        started = time.perf_counter()
        model.embed([question])
        times.append((time.perf_counter() - started) * 1000)
    return {
        "model_id": model.model_id,
        "sample": len(picked),
        "chunks_per_second": len(picked) / seconds,
        "query": percentiles(times),
    }


def build_queries(embedder: Embedder, banking_dir: Path, limit: int | None) -> list[Query]:
    """Short help-centre questions and the banking customers' opening messages.

    ``limit`` keeps that many, half of each kind.
    """
    questions = list(LATENCY_QUESTIONS)
    openings: list[str] = []
    if (banking_dir / "tasks.json").is_file():
        openings = list(dict.fromkeys(t.message for t in banking_tasks(banking_dir)))
    if limit is not None:
        questions, openings = questions[: (limit + 1) // 2], openings[: limit // 2]
    texts = questions + openings
    vectors = embedder.embed(texts)
    kinds = ["question"] * len(questions) + ["opening"] * len(openings)
    return [Query(text, vectors[i], kinds[i]) for i, text in enumerate(texts)]


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = "unknown"
    info = Path("/proc/cpuinfo")
    if info.exists():
        names = [ln for ln in info.read_text().splitlines() if ln.startswith("model name")]
        cpu = names[0].split(":", 1)[1].strip() if names else cpu
    import lancedb

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "lancedb": lancedb.__version__,
    }


def run(
    config: BenchConfig, model: Embedder, workdir: Path, cache: Path | None = None
) -> dict[str, Any]:
    """Every measurement; returns the JSON report. Real vectors are kept in ``cache``."""
    report: dict[str, Any] = {"machine": machine(), "config": _config_json(config)}
    base = base_documents(config.banking_dir)
    report["embedder"] = embedder_cost(model, base, config.throughput_sample)
    embedder = DiskCachedEmbedder(model, cache)
    queries = build_queries(embedder, config.banking_dir, config.max_queries)
    largest = max(*config.sizes, config.per_document_chunks)
    corpus = synthetic_corpus(base, embedder, largest + SPARE_CHUNKS, config.seed)
    report["embedded"] = {
        str(n): measure_size(corpus, n, queries, workdir, config.repeats) for n in config.sizes
    }
    if config.per_document_chunks:
        report["per_document_ingest"] = measure_per_document_store(
            corpus, config.per_document_chunks, queries, workdir, config.repeats
        )
    report["weaviate"] = _weaviate(config, corpus, queries)
    report["quality"] = _quality(config, embedder, workdir)
    report["target"] = verdict(report["embedded"])
    report["machine"]["load_average_end"] = list(os.getloadavg())
    embedder.save()
    report["embedder"]["cache"] = {
        "path": str(cache) if cache else None,
        "vectors_computed": embedder.computed,
        "model_seconds": embedder.seconds,
    }
    return report


def _weaviate(config: BenchConfig, corpus: SyntheticCorpus, queries: list[Query]) -> dict[str, Any]:
    if config.weaviate is None:
        return {"skipped": "WEAVIATE_URL is not set"}
    sizes = [n for n in config.sizes if n <= config.weaviate_max_chunks]
    return {
        "url": config.weaviate.url,
        "sizes": {
            str(n): measure_weaviate_size(config.weaviate, corpus, n, queries, config.repeats)
            for n in sizes
        },
    }


def _quality(config: BenchConfig, embedder: DiskCachedEmbedder, workdir: Path) -> dict[str, Any]:
    if not (config.banking_dir / "tasks.json").is_file():
        return {"skipped": f"no banking data set at {config.banking_dir}"}
    tasks = banking_tasks(config.banking_dir)[: config.max_tasks]
    before = embedder.seconds
    result = measure_quality(
        config.banking_dir, tasks, embedder, workdir, config.max_quality_documents
    )
    result["model_seconds_in_ingest"] = embedder.seconds - before
    return result


def _config_json(config: BenchConfig) -> dict[str, Any]:
    data = asdict(config)
    data["banking_dir"] = str(config.banking_dir)
    if config.weaviate is not None:
        data["weaviate"] = {"url": config.weaviate.url, "grpc_url": config.weaviate.grpc_url}
    return data


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="store sizes in chunks")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes over the queries")
    parser.add_argument("--banking-dir", type=Path, default=BANKING_DIR)
    parser.add_argument("--tasks", type=int, default=None, help="first N banking tasks only")
    parser.add_argument(
        "--queries", type=int, default=None, help="N latency queries, half of each kind"
    )
    parser.add_argument("--per-document-chunks", type=int, default=1_000, help="0 skips it")
    parser.add_argument("--weaviate-url", default=os.environ.get("WEAVIATE_URL"))
    parser.add_argument("--weaviate-grpc-url", default=os.environ.get("WEAVIATE_GRPC_URL"))
    parser.add_argument("--weaviate-max-chunks", type=int, default=100_000)
    parser.add_argument("--no-cache", action="store_true", help="recompute every real vector")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> BenchConfig:
    """The run's settings from parsed arguments (the API key only from the environment)."""
    weaviate = None
    if args.weaviate_url:
        key = os.environ.get("WEAVIATE_API_KEY")
        weaviate = WeaviateTarget(args.weaviate_url, args.weaviate_grpc_url, key)
    return BenchConfig(
        sizes=tuple(sorted(int(s) for s in args.sizes.split(","))),
        repeats=args.repeats,
        banking_dir=args.banking_dir,
        max_tasks=args.tasks,
        max_queries=args.queries,
        per_document_chunks=args.per_document_chunks,
        weaviate=weaviate,
        weaviate_max_chunks=args.weaviate_max_chunks,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run, print, write JSON."""
    args = _parse(argv)
    model = MiniLMEmbedder()
    cache = None if args.no_cache else CACHE_DIR / f"retrieval-{model.model_id}.npz"
    with tempfile.TemporaryDirectory(prefix="sf-retrieval-") as workdir:
        report = run(config_from(args), model, Path(workdir), cache)
    console = Console()
    print_report(report, console if console.is_terminal else Console(width=150))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
