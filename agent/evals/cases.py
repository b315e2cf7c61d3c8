"""The golden set: packaged JSONL cases, each a conversation and what the product should do."""

from __future__ import annotations

import fnmatch
from importlib import resources
from importlib.resources.abc import Traversable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.errors import SupportFlowError
from agent.state import Route, ToolCall


class EvalError(SupportFlowError):
    """The eval cannot run as asked: no matching case, unknown prompt, unreadable baseline."""

    code = "invalid_eval"
    exit_code = 2


class Expectations(BaseModel):
    """What the final turn of a case should produce; ``None`` leaves a field unchecked.

    ``must_contain`` and ``must_cite`` entries may list alternatives separated by ``|``: the
    entry is met when any alternative is (facts are matched case-insensitively; citations by
    the prefix of their id, e.g. ``payment-methods`` or ``tool:lookup_order:#W2611340``).
    """

    model_config = ConfigDict(extra="forbid")

    route: Route | None = None
    tool_calls: list[ToolCall] | None = None
    """Exact calls (name and args), in any order; ``[]`` means no tool may be called."""
    escalated: bool = False
    blocked: bool | None = False
    """``None`` where refusing and answering safely are both acceptable."""
    must_contain: list[str] = Field(default_factory=list)
    must_cite: list[str] = Field(default_factory=list)
    must_not_contain: list[str] = Field(default_factory=list)
    """Checked in the answer and in every tool call's arguments (leaks, guesses)."""


class GoldenCase(BaseModel):
    """One conversation: the customer's turns (one run each, same thread) and expectations."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    customer: str | None
    """The signed-in customer (``None``: an anonymous visitor)."""
    turns: list[str] = Field(min_length=1)
    expect: Expectations
    note: str = ""
    """Where the expectation comes from (a help-centre article, the retail data)."""
    category: str = ""
    """The file the case came from (set when loading)."""


def golden_files() -> list[Traversable]:
    """The packaged ``golden/*.jsonl`` files, sorted by name."""
    folder = resources.files("agent.evals").joinpath("golden")
    return sorted((f for f in folder.iterdir() if f.name.endswith(".jsonl")), key=lambda f: f.name)


def parse_cases(text: str, category: str) -> list[GoldenCase]:
    """Cases from JSONL text; a bad line names its file and number."""
    cases: list[GoldenCase] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = GoldenCase.model_validate_json(line)
        except ValidationError as exc:
            raise EvalError(f"{category}.jsonl line {number}: {exc.errors()[0]['msg']}") from exc
        cases.append(case.model_copy(update={"category": category}))
    return cases


def selected(case: GoldenCase, patterns: list[str]) -> bool:
    """A case matches a glob by its id or by its category (file name without ``.jsonl``)."""
    return any(
        fnmatch.fnmatchcase(case.id, p) or fnmatch.fnmatchcase(case.category, p) for p in patterns
    )


def load_cases(pattern: str | None = None) -> list[GoldenCase]:
    """Every packaged case, or those matching ``pattern`` (comma-separated globs)."""
    cases = [
        case
        for file in golden_files()
        for case in parse_cases(file.read_text(encoding="utf-8"), file.name.removesuffix(".jsonl"))
    ]
    ids = [c.id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise EvalError(f"duplicate golden case ids: {', '.join(duplicates)}")
    if pattern:
        patterns = [p.strip() for p in pattern.split(",") if p.strip()]
        cases = [c for c in cases if selected(c, patterns)]
        if not cases:
            raise EvalError(f"no golden case matches {pattern!r}")
    return cases
