"""The bus between stages: pick an implementation by name with :func:`open_bus`;
:func:`pump` is the loop every stage that reads a topic runs."""

from monitor.bus.base import ITEMS, MATCHES, Bus, Message, open_bus
from monitor.bus.stage import pump

__all__ = ["ITEMS", "MATCHES", "Bus", "Message", "open_bus", "pump"]
