"""Knowledge-base retrieval: embedder, vector store, loaders, chunking, ingestion."""
