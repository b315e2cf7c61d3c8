"""Server comparison: SupportFlow, ``langgraph dev`` and a bare FastAPI endpoint on one model.

Run ``python -m benchmarks.peers``. Kept free of imports, because ``lg_graph.py`` beside it is
also loaded by ``langgraph dev`` from its own virtual environment.
"""
