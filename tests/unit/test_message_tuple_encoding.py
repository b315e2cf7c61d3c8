"""``messages-tuple`` events: the per-call metadata is serialised once, the output is unchanged."""

from __future__ import annotations

import json

from langchain_core.messages import AIMessageChunk

from api.lg_format import LangGraphAdapter
from api.serde import MessageTupleEncoder, dumps, to_jsonable

METADATA = {"langgraph_node": "generate", "langgraph_step": 5, "ls_model_name": "m", "tags": ()}


def test_each_token_event_matches_the_plain_serialisation() -> None:
    adapter = LangGraphAdapter(["updates", "messages-tuple"])
    chunks = [(AIMessageChunk(content=word, id="run-1"), METADATA) for word in ("Hello", " there")]
    for chunk in chunks:
        [(event, data)] = adapter("messages", chunk)
        assert event == "messages"
        assert json.loads(dumps(data)) == json.loads(json.dumps(to_jsonable(chunk)))


def test_a_new_model_call_gets_its_own_metadata() -> None:
    encode = MessageTupleEncoder()
    first = encode((AIMessageChunk(content="a"), {"langgraph_node": "generate"}))
    second = encode((AIMessageChunk(content="b"), {"langgraph_node": "reflect"}))
    assert json.loads(first)[1] == {"langgraph_node": "generate"}
    assert json.loads(second)[1] == {"langgraph_node": "reflect"}


def test_other_modes_pass_through_and_unrequested_ones_are_dropped() -> None:
    adapter = LangGraphAdapter(["updates"])
    assert adapter("messages", (AIMessageChunk(content="x"), METADATA)) == []
    assert adapter("updates", {"route": {"route": "knowledge"}}) == [
        ("updates", {"route": {"route": "knowledge"}})
    ]
