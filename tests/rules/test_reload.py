"""Hot reload in a running daemon: a valid edit is applied without a restart, an
invalid one is refused with file:line while the old rules keep matching."""

from __future__ import annotations

import asyncio
import itertools
import logging
from pathlib import Path

import pytest
import support.config
from aiohttp import web
from feedserver import FeedServer

from monitor.alerts.sinks import schemas
from monitor.app import App
from monitor.config import load_config

WORDS = ["harbour", "convoy", "summit", "budget", "radar", "airlift", "drill", "treaty"]


def growing_feed() -> tuple[list[str], object]:
    titles: list[str] = []
    counter = itertools.count(1)

    async def handler(request: web.Request) -> web.StreamResponse:
        n = next(counter)
        titles.append(f"{WORDS[n % len(WORDS)]} {n}: Gripen and Rafale compete")
        items = "".join(
            f"<item><title>{t}</title><link>https://x.example/{i}</link><guid>g{i}</guid></item>"
            for i, t in enumerate(titles)
        )
        body = f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'
        return web.Response(body=body.encode(), headers={"Content-Type": "application/rss+xml"})

    return titles, handler


def write_config(tmp: Path, url: str) -> Path:
    return support.config.write_config(
        tmp, [f"{{url: '{url}', name: grow}}"], rules="['rules/*.yaml']",
        fetch="{allow_networks: ['127.0.0.1/32'], timeout: 2s}",
        schedule="{interval: 1s, min_interval: 1s, max_interval: 1s, jitter: 0}",
    )  # fmt: skip


async def until(check: object, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_hot_reload_in_a_running_daemon(
    tmp_path: Path, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "rules").mkdir()
    pack = tmp_path / "rules" / "jets.yaml"
    pack.write_text("rules:\n  - {name: gripen, query: Gripen}\n", encoding="utf-8")
    _, handler = growing_feed()
    url = feed_server.add("/grow.xml", handler)  # type: ignore[arg-type]
    app = App(load_config(write_config(tmp_path, url), receivers=schemas()))
    sample = app.metrics.registry.get_sample_value

    def matched(rule: str) -> float:
        return sample("newsmon_matches_total", {"rule": rule}) or 0.0

    stop = asyncio.Event()
    daemon = asyncio.create_task(app.run(stop))
    try:
        await until(lambda: matched("gripen") >= 1)
        assert matched("rafale") == 0

        # a valid change: a new rule, applied without a restart
        pack.write_text(
            "rules:\n  - {name: gripen, query: Gripen}\n  - {name: rafale, query: Rafale}\n",
            encoding="utf-8",
        )
        await until(lambda: matched("rafale") >= 1)
        assert sample("newsmon_rule_reloads_total", {"result": "ok"}) == 1

        # an invalid change: refused with file:line, the old rules stay live
        caplog.set_level(logging.INFO, logger="monitor.rules.reload")
        pack.write_text("rules:\n  - {name: gripen, query: 'Gripen AND'}\n", encoding="utf-8")
        await until(lambda: sample("newsmon_rule_reloads_total", {"result": "failed"}) == 1)
        assert f"{pack}:2: rule 'gripen': query column 11: expected a term" in caplog.text
        before = matched("rafale"), matched("gripen")
        await until(lambda: matched("rafale") > before[0] and matched("gripen") > before[1])
        assert len(app.engine.rules) == 2
        assert caplog.text.count("rules_reload_failed") == 1  # logged once, not every second

        # SIGHUP's path: a forced reload of the still-bad file fails again, quietly
        app.request_reload()
        await until(lambda: sample("newsmon_rule_reloads_total", {"result": "failed"}) == 2)
        assert caplog.text.count("rules_reload_failed") == 1
    finally:
        stop.set()
        await asyncio.wait_for(daemon, 30)
