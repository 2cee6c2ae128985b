"""The bus between stages: pick an implementation by name with :func:`open_bus`."""

from monitor.bus.base import ITEMS, MATCHES, Bus, Message, open_bus

__all__ = ["ITEMS", "MATCHES", "Bus", "Message", "open_bus"]
