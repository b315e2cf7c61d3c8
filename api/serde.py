"""Turn graph state and stream chunks into JSON the way LangGraph's server does."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from typing import Any
from uuid import UUID

from langchain_core.messages import BaseMessage
from pydantic import BaseModel


def to_jsonable(obj: Any) -> Any:
    """Recursively convert messages, models, dataclasses (``Interrupt``), dates and tuples."""
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, BaseMessage):
        return to_jsonable(obj.model_dump())
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, UUID):
        return str(obj)
    return str(obj)


class EncodedJSON(str):
    """JSON text made already; :func:`dumps` passes it through unchanged."""

    __slots__ = ()


def dumps(obj: Any) -> str:
    """Compact JSON of :func:`to_jsonable`."""
    if isinstance(obj, EncodedJSON):
        return str(obj)
    return json.dumps(to_jsonable(obj), separators=(",", ":"), ensure_ascii=False)


class MessageTupleEncoder:
    """``[message, metadata]`` JSON for ``messages-tuple`` events, one per model token.

    A model call's tokens all carry the same metadata dict (node, step, checkpoint
    namespace, model name: about 850 bytes), so it is serialised once per call instead of
    once per token; the token's own message is serialised every time.
    """

    def __init__(self) -> None:
        self._metadata: tuple[object, str] | None = None

    def __call__(self, chunk: tuple[Any, Any]) -> EncodedJSON:
        """The event's data for one ``(message, metadata)`` chunk."""
        message, metadata = chunk
        if self._metadata is None or self._metadata[0] is not metadata:
            self._metadata = (metadata, dumps(metadata))
        return EncodedJSON(f"[{dumps(message)},{self._metadata[1]}]")
