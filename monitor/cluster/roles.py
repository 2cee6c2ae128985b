"""The roles one daemon runs on Kafka, together: their readiness checks and drains."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from monitor.cluster.delivery_role import DeliveryRole
from monitor.cluster.feeds import FeedsRole
from monitor.cluster.stories_role import StoriesRole
from monitor.cluster.stories_view import StoriesView

log = logging.getLogger(__name__)


class Cluster:
    """Kafka's roles for the stories stage, delivery and feeds, and the stories view the
    web desk reads, as ``monitor.app``'s ``run`` drives them."""

    def __init__(self, stories: StoriesRole, delivery: DeliveryRole, view: StoriesView) -> None:
        self.stories, self.delivery, self.view = stories, delivery, view
        self.feeds: FeedsRole | None = None  # not for run --once: it polls every feed

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
