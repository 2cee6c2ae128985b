"""The roles one daemon runs on Kafka, together: their readiness checks and drains."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from monitor.alerts.sinks import Sink
from monitor.bus.kafka import KafkaBus
from monitor.cluster.delivery_role import DeliveryRole
from monitor.cluster.feeds import FeedsRole
from monitor.cluster.silences import Published
from monitor.cluster.stories_role import StoriesRole
from monitor.cluster.stories_view import StoriesView
from monitor.config import Settings
from monitor.metrics import Metrics
from monitor.store import Store

log = logging.getLogger(__name__)


class Cluster:
    """Kafka's roles for the stories stage, delivery and feeds, and the stories view the
    web desk reads, as ``monitor.app``'s ``run`` drives them."""

    def __init__(self, stories: StoriesRole, delivery: DeliveryRole, view: StoriesView) -> None:
        self.stories, self.delivery, self.view = stories, delivery, view
        self.feeds: FeedsRole | None = None  # not for run --once: it polls every feed

    @classmethod
    def build(
        cls, settings: Settings, metrics: Metrics, store: Store, sinks: Mapping[str, Sink],
        limits: Mapping[str, tuple[int, float]], bus: KafkaBus,
    ) -> Cluster:  # fmt: skip
        """The stories and delivery roles (and silences) and the stories view, built,
        not yet started."""
        delivery = DeliveryRole(settings, metrics, store, sinks, limits, bus)
        stories = StoriesRole(settings, metrics, list(sinks), bus)
        return cls(stories, delivery, StoriesView(settings.bus, store))

    def desk_actions(self, settings: Settings, store: Store) -> dict[str, Any]:
        """Where the web desk's actions go on Kafka: a silence to ``<prefix>.silences``,
        which every daemon follows; a retry only on the daemon delivering to the alert's
        receiver, whose outbox writes it to the delivery changelog (another daemon's copy
        of the row is not the one that counts)."""
        outbox = self.delivery.outbox
        return {"silences": Published(settings.bus, store),
                "delivers": lambda receiver: receiver in outbox.serving}  # fmt: skip

    def checks(self) -> dict[str, Callable[[], Coroutine[Any, Any, bool]]]:
        checks = {"stories": self.stories.ready, "delivery": self.delivery.ready,
                  "silences": self.delivery.silences_ready}  # fmt: skip
        if self.feeds is not None:
            checks["feeds"] = self.feeds.ready
        return checks

    def explain(self) -> dict[str, Callable[[], str | None]]:
        """What each role's failing readiness waits on, for /readyz."""
        stories = self.stories.owner
        out: dict[str, Callable[[], str | None]] = {
            "stories": lambda: (stories.waiting_on().removeprefix("stories (").rstrip(")")
                                or (None if self.stories.topics_ok else "topic mismatch")),
            "delivery": lambda: None if self.delivery.topics_ok else "topic mismatch",
            "silences": lambda: None if self.delivery.silences.caught_up else "reading the topic",
        }  # fmt: skip
        if (feeds := self.feeds) is not None:
            out["feeds"] = feeds.waiting
        return out

    def stop_by(self, deadline: float) -> None:
        """The roles are left by ``deadline`` (monotonic): what waits on the broker then
        is given up (uncommitted work is redone by each partition's next owner)."""
        self.stories.deadline = self.delivery.deadline = deadline

    async def drain(self, deadline: float) -> None:
        """What the stages before published flows through: matches into the outbox,
        the outbox into the receivers' queues (the dispatcher's drain follows)."""
        for role, name in ((self.stories, "stories"), (self.delivery, "delivery")):
            if not await role.drain(deadline):
                log.warning("drain_timeout role=%s", name)
