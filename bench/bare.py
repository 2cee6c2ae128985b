"""The like-for-like baseline of the polling benchmark: bare aiohttp conditional GETs
spread evenly at the daemon's rate, not back to back.

A process that sleeps between requests pays for each wake-up (its caches cold again,
the loop's select): on a shared or virtualised host that can cost more CPU than the
request. ``bench.poll.baseline`` runs 50 GETs at once, back to back, and has none of
that; the daemon, polling feeds on their schedules, has it all. Both are printed.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

from bench.localfeeds import LocalFeeds


async def spread(feeds: LocalFeeds, rate: float, seconds: float) -> float:
    """Main-process CPU per conditional GET answered 304, one started every 1/rate s."""
    urls = [feeds.url(n) for n in range(1, 1000) if n % feeds.plan.changed_every]
    headers = {"If-None-Match": '"v1"', "Accept-Encoding": "gzip, deflate"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
        running: set[asyncio.Task[None]] = set()

        async def get(url: str) -> None:
            async with session.get(url, headers=headers) as resp:
                await resp.read()

        async def window(length: float) -> int:
            loop = asyncio.get_running_loop()
            start, sent = loop.time(), 0
            while loop.time() - start < length:
                task = asyncio.create_task(get(urls[sent % len(urls)]))
                running.add(task)
                task.add_done_callback(running.discard)
                sent += 1
                await asyncio.sleep(max(0.0, start + sent / rate - loop.time()))
            await asyncio.gather(*running)
            return sent

        await window(2.0)  # connections made, code warm
        cpu = time.process_time()
        sent = await window(seconds)
        return (time.process_time() - cpu) / max(sent, 1)
