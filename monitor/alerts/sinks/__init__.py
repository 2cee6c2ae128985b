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
from monitor.config import ReceiverConfig, ReceiverSchema, values
from monitor.errors import ConfigError, Problem

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
    """The sink for a receiver (its options already validated by config; ``newsmon
    check`` builds them whatever it found, so an option that is not valid is a
    ConfigError here too, never a traceback)."""
    factory: Callable[[ReceiverConfig, Path], Sink] = _kinds()[receiver.kind].build
    try:
        return factory(receiver, base_dir)
    except values.Invalid as exc:
        if _reported(receiver):  # the config check said so already, at the option's line
            raise ConfigError([]) from None
        message = f"receiver {receiver.name!r}: {exc}"
        raise ConfigError([Problem(receiver.file, receiver.line, message)]) from None


def _reported(receiver: ReceiverConfig) -> bool:
    """Whether one of the receiver's options fails its kind's own check."""
    convs = _kinds()[receiver.kind].SCHEMA.convs
    for key, value in receiver.options.items():
        try:
            if key in convs:
                convs[key](value)
        except values.Invalid:
            return True
    return False
