"""Graph builders."""

from graphs.support import build_graph

__all__ = ["build_graph"]
