"""The serving app freezes its startup objects out of the cyclic GC; test apps do not."""

from __future__ import annotations

import gc
from pathlib import Path

from asgi_lifespan import LifespanManager

from agent.services import Services
from api.app import create_app
from tests.conftest import make_settings


async def test_startup_objects_are_frozen_only_when_asked(
    services: Services, tmp_path: Path
) -> None:
    gc.unfreeze()
    try:
        async with LifespanManager(create_app(make_settings(tmp_path / "a"), services)):
            assert gc.get_freeze_count() == 0
        async with LifespanManager(
            create_app(make_settings(tmp_path / "b"), services, freeze_gc=True)
        ):
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
