"""Delivery: hand an alert to its receiver's sink, once.

Foundation version: one attempt; a failure is logged (once per receiver and
reason) and counted. The delivery issue adds the outbox and the one retry loop.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from monitor.alerts.sinks import Sink
from monitor.errors import DeliveryError
from monitor.metrics import Metrics
from monitor.model import Alert

log = logging.getLogger(__name__)


class Deliverer:
    def __init__(self, sinks: Mapping[str, Sink], metrics: Metrics) -> None:
        self.sinks = dict(sinks)
        self._metrics = metrics
        self._last_reason: dict[str, str] = {}
        metrics.init_receivers(self.sinks)

    async def deliver(self, alert: Alert) -> bool:
        """True if the receiver accepted the alert."""
        sink = self.sinks[alert.receiver]
        try:
            await sink.send(alert)
        except DeliveryError as exc:
            self._metrics.deliveries_failed.labels(alert.receiver, exc.reason).inc()
            if self._last_reason.get(alert.receiver) != exc.reason:
                log.warning(
                    "delivery_failed receiver=%s reason=%s retryable=%s",
                    alert.receiver, exc.reason, exc.retryable,
                )  # fmt: skip
            self._last_reason[alert.receiver] = exc.reason
            return False
        self._last_reason.pop(alert.receiver, None)
        self._metrics.alerts_sent.labels(alert.receiver).inc()
        log.info("alert_sent receiver=%s alert_id=%s rules=%s",
                 alert.receiver, alert.alert_id, ",".join(alert.rules))  # fmt: skip
        return True
