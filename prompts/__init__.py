"""Versioned prompt files (``prompts/<version>/<name>.md``) with named placeholders."""

from __future__ import annotations

import re
import string
from functools import lru_cache
from pathlib import Path

PROMPTS_DIR = Path(__file__).parent
_VERSION = re.compile(r"^v\d+(\.\d+)*$")


class PromptNotFoundError(LookupError):
    """The requested prompt version or name does not exist."""


def available_versions() -> list[str]:
    """Prompt versions shipped with this build, oldest first."""
    found = [p.name for p in PROMPTS_DIR.iterdir() if p.is_dir() and _VERSION.match(p.name)]
    return sorted(found, key=lambda v: [int(x) for x in v[1:].split(".")])


@lru_cache(maxsize=64)
def load_prompt(version: str, name: str) -> string.Template:
    """The template for ``name`` at ``version``; placeholders are ``$name``."""
    if not _VERSION.match(version) or not re.fullmatch(r"[a-z_]+", name):
        raise PromptNotFoundError(f"invalid prompt reference {version}/{name}")
    path = PROMPTS_DIR / version / f"{name}.md"
    if not path.is_file():
        raise PromptNotFoundError(f"prompt {version}/{name} not found")
    return string.Template(path.read_text(encoding="utf-8"))


def render(version: str, name: str, **values: str) -> str:
    """Fill a prompt; a missing placeholder is a bug, so it raises ``KeyError``."""
    return load_prompt(version, name).substitute(values)


def fence(tag: str, content: str, **attrs: str) -> str:
    """Wrap untrusted content in a labelled tag, escaping anything that could close it."""
    safe = content.replace("<", "&lt;").replace(">", "&gt;")
    rendered = "".join(f' {k}="{re.sub(r"[^A-Za-z0-9 _#:.-]", "", v)}"' for k, v in attrs.items())
    return f"<{tag}{rendered}>\n{safe}\n</{tag}>"
