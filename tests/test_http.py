"""The HTTP endpoints on a real socket: /metrics, /healthz, /readyz."""

from __future__ import annotations

import aiohttp
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import HttpConfig
from monitor.http import HttpServer
from monitor.metrics import Metrics


class Flag:
    """A readiness check whose answer the test sets; ``boom`` makes it raise."""

    def __init__(self, value: bool = True) -> None:
        self.value, self.boom = value, False

    async def __call__(self) -> bool:
        if self.boom:
            raise OSError("disk on fire")
        return self.value


async def get(port: int, path: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as resp,
    ):
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


def test_listens_on_loopback_by_default() -> None:
    assert HttpConfig().host == "127.0.0.1"


async def test_readyz_names_each_failing_check_and_healthz_stays_up() -> None:
    store, bus = Flag(), Flag()
    registry = CollectorRegistry()
    async with HttpServer("127.0.0.1", 0, registry, {"store": store, "bus": bus}) as server:
        assert server.port != 0
        assert (await get(server.port, "/readyz"))[::2] == (200, "ready\n")

        store.value = False
        status, _, body = await get(server.port, "/readyz")
        assert (status, body) == (503, "not ready: store\n")

        bus.boom = True  # a check that raises counts as failing, and /readyz still answers
        status, _, body = await get(server.port, "/readyz")
        assert (status, body) == (503, "not ready: store, bus\n")
        assert (await get(server.port, "/healthz"))[::2] == (200, "ok\n")

        store.value, bus.boom = True, False
        assert (await get(server.port, "/readyz"))[0] == 200


async def test_readyz_says_what_a_failing_role_waits_on() -> None:
    """Kafka's roles explain themselves; a check that says nothing, or whose explanation
    raises, is named alone."""
    stories, feeds, bus = Flag(), Flag(), Flag()
    waits = {"stories": lambda: "rebuilding 3,200 of 5,000 records", "bus": lambda: None,
             "feeds": lambda: 1 / 0}  # fmt: skip
    checks = {"stories": stories, "feeds": feeds, "bus": bus}
    async with HttpServer("127.0.0.1", 0, CollectorRegistry(), checks, explain=waits) as server:
        assert (await get(server.port, "/readyz"))[::2] == (200, "ready\n")
        stories.value = feeds.value = bus.value = False
        status, _, body = await get(server.port, "/readyz")
        want = "not ready: stories (rebuilding 3,200 of 5,000 records), feeds, bus\n"
        assert (status, body) == (503, want)


async def test_metrics_serves_the_registry_in_the_text_format() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.init_receivers(["desk"])
    metrics.alerts_sent.labels("desk").inc(3)
    async with HttpServer("127.0.0.1", 0, metrics.registry, {}) as server:
        status, content_type, body = await get(server.port, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain;")  # the Prometheus text format
    families = {f.name: f for f in text_string_to_metric_families(body)}
    (sample,) = families["newsmon_alerts_sent"].samples
    assert sample.labels == {"receiver": "desk"} and sample.value == 3
    assert "newsmon_build_info" in body
