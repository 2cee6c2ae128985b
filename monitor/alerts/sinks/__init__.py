"""Sinks: one small module per kind, chosen by name from config.

Every sink keeps one contract: ``async send(alert) -> None``, raising
``DeliveryError(reason, retryable=...)``; each is an async context manager.
Each module declares its options (``SCHEMA``) beside its ``build`` function.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Protocol

from monitor.config import ReceiverConfig, ReceiverSchema
from monitor.model import Alert


class Sink(Protocol):
    async def send(self, alert: Alert) -> None: ...

    async def __aenter__(self) -> Sink: ...

    async def __aexit__(self, *exc: object) -> None: ...


def _kinds() -> dict[str, ModuleType]:
    from monitor.alerts.sinks import console, file

    return {"console": console, "file": file}


def schemas() -> dict[str, ReceiverSchema]:
    """Each sink kind's options, for config validation."""
    return {kind: module.SCHEMA for kind, module in _kinds().items()}


def build(receiver: ReceiverConfig, base_dir: Path) -> Sink:
    """The sink for a receiver (its options already validated by config)."""
    factory: Callable[[ReceiverConfig, Path], Sink] = _kinds()[receiver.kind].build
    return factory(receiver, base_dir)
