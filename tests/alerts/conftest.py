from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from standins import HookServer, self_signed_cert


@pytest.fixture
async def hook() -> AsyncIterator[HookServer]:
    async with HookServer() as server:
        yield server


@pytest.fixture(scope="session")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path_factory.mktemp("tls"))
