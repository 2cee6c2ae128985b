"""The generic stage loop: consume a topic, handle each message, then ack it.

Every stage that reads the bus runs :func:`pump`. A message whose handling fails is
dead-lettered (reason ``handler_error``: counted, and kept in the dead-letter topic
on Kafka) and the stage goes on: one bad record never stops a stage, and none is
lost unseen. But while the store or the bus is failing (a full disk, a broker
away) the message is handled again with backoff, never acked unhandled: the stage
stalls, the bus pushes back, nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from monitor.bus.base import Bus
from monitor.errors import BusError, StoreError
from monitor.model import Record

log = logging.getLogger(__name__)

STALL_BACKOFF, MAX_STALL_BACKOFF = 0.5, 30.0  # a stage waiting for the store or the bus

Handler = Callable[[Record], Awaitable[None]]


async def pump(bus: Bus, topic: str, group: str, handle: Handler) -> None:
    """Consume ``topic`` as stage ``group`` until cancelled (see the module docstring)."""
    traced = ""  # the last handler error logged with its traceback
    async for message in bus.consume(topic, group):
        delay, last = STALL_BACKOFF, ""
        while True:
            try:
                await handle(message.value)
            except (StoreError, BusError) as exc:
                if str(exc) != last:
                    log.warning("stage_stalled topic=%s group=%s error=%s", topic, group, exc)
                    last = str(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_STALL_BACKOFF)
                continue
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.error(
                    "stage_error topic=%s group=%s key=%s error=%s", topic, group,
                    message.key[:200], error, exc_info=exc if error != traced else None,
                )  # fmt: skip
                traced = error
                await message.dead_letter("handler_error", error)
                break
            if last:
                log.info("stage_resumed topic=%s group=%s", topic, group)
            await message.ack()
            break
