"""Sinks: one small module per kind, chosen by name from config.

Every sink keeps one contract (:class:`~monitor.alerts.sinks.base.Sink`):
``async send(alerts) -> None`` (one alert, or a group's digest), raising
``DeliveryError(reason, detail, retryable=..., retry_after=...)``; each is an async
context manager. Sinks never retry: ``deliver.py`` does, for all, and it depends on
sinks, never the reverse. Each module declares its options (``SCHEMA``) beside its
``build`` function.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from monitor.alerts.sinks.base import Sink
from monitor.config import ReceiverConfig, ReceiverSchema

__all__ = ["Sink", "build", "schemas"]


def _kinds() -> dict[str, ModuleType]:
    import monitor.alerts.sinks.apprise as apprise
    import monitor.alerts.sinks.email as email
    from monitor.alerts.sinks import alertmanager, console, file, slack, webhook

    return {"console": console, "file": file, "slack": slack, "email": email, "webhook": webhook,
            "apprise": apprise, "alertmanager": alertmanager}  # fmt: skip


def schemas() -> dict[str, ReceiverSchema]:
    """Each sink kind's options, for config validation."""
    return {kind: module.SCHEMA for kind, module in _kinds().items()}


def build(receiver: ReceiverConfig, base_dir: Path) -> Sink:
    """The sink for a receiver (its options already validated by config)."""
    factory: Callable[[ReceiverConfig, Path], Sink] = _kinds()[receiver.kind].build
    return factory(receiver, base_dir)
