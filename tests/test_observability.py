"""Observability end to end: the real daemon, scraped by Debian's Prometheus.

Every PromQL expression of every panel of the shipped Grafana dashboard, and
every rule of the shipped alerts.yml, runs against Prometheus's HTTP API while
Prometheus scrapes a daemon that processes the demo feeds and delivers to a
file, to a webhook that answers 503 (retried) and to one that answers 404
(dead-lettered). /readyz follows the store and the Kafka broker.
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import support.config
from feedserver import FeedServer, rss, status
from kafka_broker import ApacheKafka, Tansu
from prometheus import api, binary, prometheus, wait_for_samples
from support.config import ROOT, file_receiver
from support.daemon import Daemon
from support.net import free_port
from support.samples import EXPECTED, serve_samples
from support.samples import read_alerts as alerts

DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "newsmon.json"
ALERT_RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
# Grafana's variables as "All" instances and a 1 s scrape resolve them
GRAFANA = {"$__rate_interval": "1m", "$instance": ".*"}
EMPTY_RSS = b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>'
NEVER = "0001-01-01T00:00:00Z"  # a rule's lastEvaluation before its first


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))  # a collapsed row holds its panels


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL with Grafana's variables resolved) for every target."""
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = []
    for panel in panels(doc["panels"]):
        if panel["type"] == "row":
            continue
        assert panel.get("targets"), f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            expr = target["expr"]
            for name, value in GRAFANA.items():
                expr = expr.replace(name, value)
            assert "$" not in expr, f"unresolved variable in {expr}"
            queries.append((panel["title"], expr))
    return queries


def rule_names() -> set[str]:
    text = ALERT_RULES.read_text(encoding="utf-8")
    return set(re.findall(r"^\s*- alert: (\w+)$", text, re.MULTILINE))


def write_config(tmp: Path, server: FeedServer, http_port: int) -> Path:
    feeds = {name: server.add(f"/{name}.xml", rss(EMPTY_RSS)) for name in ("wire", "atom", "rdf")}
    feeds["gone"] = server.add("/gone.xml", status(404))
    return support.config.write_config(
        tmp, feeds,
        schedule="{interval: 1s, min_interval: 1s, max_interval: 2s, max_backoff: 2s}",
        http=f"{{listen: '127.0.0.1:{http_port}'}}",
        delivery="{backoff: 10m, max_backoff: 1h}  # one failed attempt each, then wait",
        receivers=[
            file_receiver(tmp),
            f"{{name: pager, kind: webhook, url: '{server.add('/pager', status(503))}'}}",
            f"{{name: archive, kind: webhook, url: '{server.add('/archive', status(404))}'}}",
        ],
    )  # fmt: skip


async def get(port: int, path: str) -> tuple[int, str]:
    """Status and body of GET ``path``; (0, error) while nothing answers."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(f"http://127.0.0.1:{port}{path}") as resp,
        ):
            return resp.status, await resp.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return 0, repr(exc)


async def until_status(port: int, path: str, want: int, timeout: float = 60) -> str:
    async with asyncio.timeout(timeout):
        while (answer := await get(port, path))[0] != want:
            await asyncio.sleep(0.2)
    return answer[1]


async def until_query(base: str, query: str, timeout: float = 60) -> list[Any]:
    """Wait until ``query`` returns a non-empty vector; returns it."""
    async with asyncio.timeout(timeout):
        while not (result := (await asyncio.to_thread(api, base, "/api/v1/query", query=query))
                   ["data"]["result"]):  # fmt: skip
            await asyncio.sleep(0.5)
    return list(result)


async def evaluated_rules(base: str, timeout: float = 60) -> dict[str, dict[str, Any]]:
    """Every alerting rule Prometheus loaded, once each has been evaluated."""
    async with asyncio.timeout(timeout):
        while True:
            doc = await asyncio.to_thread(api, base, "/api/v1/rules", type="alert")
            rules = {r["name"]: r for g in doc["data"]["groups"] for r in g["rules"]}
            if rules and all(r["lastEvaluation"] != NEVER for r in rules.values()):
                return rules
            await asyncio.sleep(0.5)


def metric_value(text: str, line_start: str) -> float:
    (line,) = [x for x in text.splitlines() if x.startswith(line_start + " ")]
    return float(line.rsplit(" ", 1)[1])


@pytest.mark.slow
async def test_dashboard_and_alert_rules_on_real_prometheus(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    port = free_port()
    config = write_config(tmp_path, feed_server, port)
    (tmp_path / "prom").mkdir()
    with prometheus(tmp_path / "prom", f"127.0.0.1:{port}", rules=ALERT_RULES) as base:
        async with Daemon(config):
            await until_status(port, "/readyz", 200)
            # scraped at 0 before any item flows, so every counter's rise is inside the data
            await wait_for_samples(
                base,
                'newsmon_alert_deliveries_total{receiver="archive",outcome="dead_lettered"} == 0',
            )
            serve_samples(feed_server)  # now the demo feeds have their items
            async with asyncio.timeout(60):
                while len(alerts(tmp_path)) < len(EXPECTED):
                    await asyncio.sleep(0.2)
            await until_query(base, 'newsmon_alerts_sent_total{receiver="desk-file"} >= 6')
            await until_query(
                base,
                'newsmon_alert_deliveries_total{receiver="archive",outcome="dead_lettered"} >= 6',
            )

            empty = []
            for title, expr in dashboard_queries():
                doc = await asyncio.to_thread(api, base, "/api/v1/query", query=expr)
                assert doc["status"] == "success", (title, expr, doc)
                if not doc["data"]["result"]:
                    empty.append((title, expr))
            assert empty == []
            instances = await asyncio.to_thread(
                api, base, "/api/v1/label/instance/values", **{"match[]": "newsmon_build_info"}
            )  # the dashboard's $instance variable: label_values(newsmon_build_info, instance)
            assert instances["data"] == [f"127.0.0.1:{port}"]

            rules = await evaluated_rules(base)
            assert set(rules) == rule_names()
            for name, rule in rules.items():
                assert (rule["health"], rule.get("lastError", "")) == ("ok", ""), name
                check = await asyncio.to_thread(api, base, "/api/v1/query", query=rule["query"])
                assert check["status"] == "success", name
            active = await until_active(
                base, {"NewsmonAlertsDeadLettered", "NewsmonDeliveryFailing"}
            )
            assert active == {("NewsmonAlertsDeadLettered", "archive"),
                              ("NewsmonDeliveryFailing", "pager")}  # fmt: skip

            status_code, text = await get(port, "/metrics")
            assert status_code == 200
            assert metric_value(text, "newsmon_alerts_pending") == 6  # the pager's, read live
            lint = subprocess.run([binary("promtool"), "check", "metrics"], input=text.encode(),
                                  capture_output=True, timeout=60)  # fmt: skip
            assert (lint.returncode, lint.stdout, lint.stderr) == (0, b"", b"")


async def until_active(base: str, names: set[str], timeout: float = 60) -> set[tuple[str, str]]:
    """(alert name, receiver) of the pending or firing alerts among ``names``, once each
    of ``names`` has one."""
    async with asyncio.timeout(timeout):
        while True:
            doc = await asyncio.to_thread(api, base, "/api/v1/alerts")
            labels = [a["labels"] for a in doc["data"]["alerts"]]
            found = {(x["alertname"], x.get("receiver", "")) for x in labels
                     if x["alertname"] in names}  # fmt: skip
            if {name for name, _ in found} == names:
                return found
            await asyncio.sleep(0.5)


def quiet_config(tmp: Path, server: FeedServer, port: int, extra: str = "") -> Path:
    """One feed without items, polled once an hour: the store is left alone once it is polled."""
    url = server.add("/quiet.xml", rss(EMPTY_RSS))
    feeds = [f"{{url: '{url}', name: quiet, interval: 1h}}"]
    return support.config.write_config(
        tmp, feeds, http=f"{{listen: '127.0.0.1:{port}'}}", extra=extra
    )


async def until_polled(port: int) -> None:
    """Until the feed's poll finished, its state saved (in the same step as this gauge)."""
    async with asyncio.timeout(60):
        while "newsmon_feeds_healthy 1.0" not in (await get(port, "/metrics"))[1]:
            await asyncio.sleep(0.2)


async def test_readyz_turns_false_while_the_store_is_unwritable(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    port = free_port()
    async with Daemon(quiet_config(tmp_path, feed_server, port)) as daemon:
        await until_status(port, "/readyz", 200)
        await until_polled(port)
        soft, hard = resource.prlimit(daemon.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(
            daemon.pid, resource.RLIMIT_FSIZE, (0, hard)
        )  # no file may grow: disk full
        try:
            body = await until_status(port, "/readyz", 503)
            assert body == "not ready: store\n"
            assert (await get(port, "/healthz")) == (200, "ok\n")  # alive all the same
        finally:
            resource.prlimit(daemon.pid, resource.RLIMIT_FSIZE, (soft, hard))
        assert await until_status(port, "/readyz", 200) == "ready\n"


@pytest.mark.kafka
@pytest.mark.slow
async def test_readyz_turns_false_while_the_kafka_broker_is_paused(
    tmp_path: Path, feed_server: FeedServer, own_kafka: ApacheKafka | Tansu
) -> None:
    port = free_port()
    bus = (
        f"bus: {{kind: kafka, bootstrap_servers: ['{own_kafka.bootstrap}'], topic_prefix: ready,"
        " group_id: ready, partitions: 1, session_timeout: 6s, heartbeat_interval: 1s,"
        " max_poll_interval: 10s, commit_interval: 200ms}\n"
    )
    async with Daemon(quiet_config(tmp_path, feed_server, port, bus)):
        await until_status(port, "/readyz", 200)
        own_kafka.pause()
        try:
            assert await until_status(port, "/readyz", 503) == "not ready: bus\n"
            assert (await get(port, "/healthz")) == (200, "ok\n")
        finally:
            own_kafka.resume()
        assert await until_status(port, "/readyz", 200) == "ready\n"
