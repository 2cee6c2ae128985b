"""Sinks: one small module per kind, chosen by name from config.

Every sink keeps one contract: ``async send(alerts) -> None`` (one alert, or a
group's digest), raising ``DeliveryError(reason, retryable=..., retry_after=...)``;
each is an async context manager. Sinks never retry: ``deliver.py`` does, for all.
Each module declares its options (``SCHEMA``) beside its ``build`` function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Protocol

from monitor.config import ReceiverConfig, ReceiverSchema
from monitor.model import Alert


class Sink(Protocol):
    async def send(self, alerts: Sequence[Alert]) -> None: ...

    async def __aenter__(self) -> Sink: ...

    async def __aexit__(self, *exc: object) -> None: ...


def _kinds() -> dict[str, ModuleType]:
    import monitor.alerts.sinks.email as email
    from monitor.alerts.sinks import console, file, slack, webhook

    return {"console": console, "file": file, "slack": slack, "email": email, "webhook": webhook}


def schemas() -> dict[str, ReceiverSchema]:
    """Each sink kind's options, for config validation."""
    return {kind: module.SCHEMA for kind, module in _kinds().items()}


def build(receiver: ReceiverConfig, base_dir: Path) -> Sink:
    """The sink for a receiver (its options already validated by config)."""
    factory: Callable[[ReceiverConfig, Path], Sink] = _kinds()[receiver.kind].build
    return factory(receiver, base_dir)
