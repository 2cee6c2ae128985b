from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def topic_prefix() -> str:
    """A fresh prefix per test: topics and groups never leak between tests."""
    return f"t{uuid.uuid4().hex[:10]}"
