from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kafka_broker import Broker, external


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """One broker for the session: KAFKA_BOOTSTRAP_SERVERS, else a Tansu we start."""
    if (servers := external()) is not None:
        yield servers
        return
    with Broker() as broker:
        yield broker.bootstrap


@pytest.fixture
def topic_prefix() -> str:
    """A fresh prefix per test: topics and groups never leak between tests."""
    return f"t{uuid.uuid4().hex[:10]}"
