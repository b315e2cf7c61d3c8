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


def dumps(obj: Any) -> str:
    """Compact JSON of :func:`to_jsonable`."""
    return json.dumps(to_jsonable(obj), separators=(",", ":"), ensure_ascii=False)
