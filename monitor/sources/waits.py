"""Waiting in the poller's loops: sleeping unless the stop event is set, waking a loop
when it is, and letting the polls in flight finish within a grace."""

from __future__ import annotations

import asyncio


async def _finish(polls: set[asyncio.Task[None]], grace: float | None) -> None:
    """Let ``polls`` finish (at most ``grace`` seconds if given; the rest are cancelled:
    their items are not marked seen, so they are published again, never lost)."""
    if not polls:
        return
    _, late = await asyncio.wait(polls, timeout=grace)
    for task in late:
        task.cancel()
    await asyncio.gather(*polls, return_exceptions=True)


async def _set_when(stop: asyncio.Event, wake: asyncio.Event) -> None:
    await stop.wait()
    wake.set()


async def _sleep_unless(stop: asyncio.Event, delay: float) -> bool:
    """Sleep ``delay`` seconds; True at once if ``stop`` is (or becomes) set."""
    if stop.is_set():
        return True
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(delay, 0.0))
    except TimeoutError:
        return False
    return True
