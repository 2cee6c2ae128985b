"""Acceptance (issue 11, the alerts half): daemons sharing one group on Apache Kafka alert
each story exactly once per receiver; a daemon joining and leaving loses and repeats
nothing.

The scenario (:class:`Scenario`, also used by ``test_cluster_delivery.py``): 40 distinct
stories, each carried by 5 outlets (one feed each, with its own link and an outlet's
markup on the title), arriving over 4 polls; webhook receivers that record every alert
as it reaches them, and a file receiver per daemon. Each daemon is the real ``newsmon
run``. The daemons share the feeds through the feeds group (each feed polled by one
daemon at a time); every fetch is recorded with the daemon that made it (its user agent).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import re
import signal
import string
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from feedserver import FeedServer
from support.config import write_config
from support.daemon import Daemon, until
from support.net import free_port

from monitor.bus.kafka_txn import partition_for

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

STORIES, OUTLETS, PHASES, PARTITIONS = 40, 5, 4, 3
INTERVAL = 1.0  # seconds: every feed's poll interval (jitter 0)
AGENT = "newsmon-test/"
RULES = 'rules:\n  - {name: naval, keywords: ["navy"], severity: high, labels: {desk: defence}}\n'
NAMES = ("Anka Wire", "Baltic Post", "Caspian Times", "Danube Herald", "Euphrates Daily")


def headline(i: int) -> tuple[str, str]:
    """Story ``i``'s title and lead: words of its own (seeded), so no two stories are
    copies or rewrites of each other, whatever order their items come in."""
    rng = random.Random(i)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 9))) for _ in range(26)]
    title = f"Navy {' '.join(words[:6])} {100 + 37 * i}"
    return title, f"{words[6].capitalize()} {' '.join(words[7:])} navy {i} officials said."


def copy_title(title: str, outlet: int) -> str:
    """How outlet ``outlet`` carries the wire's title."""
    return (title, f"UPDATE 1-{title}", f"{title} - {NAMES[2]}", f"{title}: officials",
            title)[outlet]  # fmt: skip


def appears(story: int, outlet: int) -> int:
    """The poll phase from which ``outlet``'s feed carries ``story``: the stories over
    three phases, each outlet's copy over the next."""
    return 1 + story % 3 + outlet % 2


class Receivers:
    """Webhook receivers on 127.0.0.1 (one path each): each POST's alerts are recorded as
    they arrive (a receiver acts on what reaches it, even when the sender dies before the
    answer), answered 200 after ``delay`` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.got: list[tuple[str, dict[str, Any], float]] = []  # path, alert, monotonic time
        app = web.Application()
        app.router.add_post("/{name}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        self.port = 0

    async def __aenter__(self) -> Receivers:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        for alert in body["alerts"]:
            self.got.append((request.match_info["name"], alert, time.monotonic()))
        await asyncio.sleep(self.delay)
        return web.Response(text="ok")

    def alerts(self, name: str, mode: str | None = "post") -> list[dict[str, Any]]:
        return [a for n, a, _ in self.got if n == name and mode in (None, a["mode"])]


def receiver_names(count: int, partitions: int = PARTITIONS) -> list[str]:
    """``count`` webhook receiver names spread over every outbox partition (keys decide
    partitions: this makes every partition serve one)."""
    names: list[str] = []
    for n in range(1000):
        name = f"hook{n}"
        taken = {partition_for(x.encode(), partitions) for x in names}
        if partition_for(name.encode(), partitions) not in taken or len(taken) == partitions:
            names.append(name)
        if len(names) == count:
            return names
    raise AssertionError("no names")


class Scenario:
    def __init__(self, tmp: Path, feeds: FeedServer, receivers: Receivers, bootstrap: str,
                 prefix: str, hooks: Iterable[str] = ("hook0",)) -> None:  # fmt: skip
        self.tmp, self.server, self.receivers = tmp, feeds, receivers
        self.bootstrap, self.prefix, self.hooks = bootstrap, prefix, list(hooks)
        self.phase = 0
        self.urls = [feeds.add(f"/outlet{o}.xml", self._feed(o)) for o in range(OUTLETS)]
        self.daemons: list[Daemon] = []
        self.ports: list[int] = []
        self.fetched: dict[int, list[tuple[float, str]]] = {o: [] for o in range(OUTLETS)}

    def _feed(self, outlet: int) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.Response:
            agent = request.headers.get("User-Agent", "")
            self.fetched[outlet].append((time.monotonic(), agent.split(AGENT)[-1].split()[0]))
            items = []
            for i in range(STORIES):
                if self.phase < appears(i, outlet):
                    continue
                title, lead = headline(i)
                items.append(f"<item><title>{copy_title(title, outlet)}</title>"
                             f"<link>https://outlet{outlet}.example/story-{i}</link>"
                             f"<guid>o{outlet}-s{i}</guid><description>{lead}</description>"
                             "<pubDate>Fri, 12 Jul 2019 06:05:00 GMT</pubDate></item>")  # fmt: skip
            body = (f'<rss version="2.0"><channel><title>{NAMES[outlet]}</title>'
                    f"{''.join(items)}</channel></rss>")  # fmt: skip
            return web.Response(body=body.encode(), content_type="application/rss+xml")

        return handler

    def config(self, n: int, *, delivery: str = "{backoff: 0.5s, max_backoff: 2s, timeout: 5s}",
               extra: str = "") -> Path:  # fmt: skip
        """Daemon ``n``'s config: its own folder, state file, file receiver and port."""
        folder = self.tmp / f"d{n}"
        folder.mkdir(exist_ok=True)
        (folder / "rules.yaml").write_text(RULES, encoding="utf-8")
        port = free_port()
        hooks = [f"{{name: {h}, kind: webhook, url: '{self.receivers.url(h)}'}}"
                 for h in self.hooks]  # fmt: skip
        files = [f"{{name: desk-file, kind: file, path: {folder / 'alerts.jsonl'}}}"]
        bus = (f"{{kind: kafka, bootstrap_servers: ['{self.bootstrap}'],"
               f" topic_prefix: {self.prefix}, group_id: {self.prefix}, partitions: {PARTITIONS},"
               " session_timeout: 6s, heartbeat_interval: 1s, max_poll_interval: 30s,"
               " commit_interval: 200ms}")  # fmt: skip
        return write_config(
            folder, self.urls, rules="[rules.yaml]", receivers=[*hooks, *files],
            schedule="{interval: 1s, min_interval: 1s, max_interval: 1s, jitter: 0}",
            http=f"{{enabled: true, listen: '127.0.0.1:{port}'}}", delivery=delivery,
            fetch=f"{{allow_networks: ['127.0.0.1/32'], timeout: 5s, user_agent: '{AGENT}d{n}'}}",
            bus=bus, extra=extra,
        )  # fmt: skip

    async def start(self, n: int, **kw: Any) -> Daemon:
        daemon = Daemon(self.config(n, **kw), check=False)
        await daemon.start()
        self.daemons.append(daemon)
        return daemon

    def polls(self) -> int:
        """Polls every feed has had (the least polled one's count, over every daemon)."""
        return min(len(self.server.hits(f"/outlet{o}.xml")) for o in range(OUTLETS))

    async def run_phases(self, phases: Iterable[int], between: Callable[[int], Any] | None = None,
                         timeout: float = 120) -> None:  # fmt: skip
        """Each phase: its items served, every feed polled twice more, ``between(phase)``."""
        for step in phases:
            self.phase = step
            start = self.polls()
            await until(lambda start=start: self.polls() >= start + 2,  # type: ignore[misc]
                        f"poll {step} of every feed", timeout)  # fmt: skip
            if between is not None:
                await between(step)

    def too_soon(self, since: float, slack: float = 0.5) -> list[str]:
        """Two fetches of one feed (after ``since``) closer than ``slack`` x the interval
        (1 s, jitter 0): one daemon waits the interval between two polls of a feed; two
        daemons polling it on their own schedules come closer sooner or later."""
        found = []
        for outlet, fetches in self.fetched.items():
            late = [f for f in fetches if f[0] >= since]
            for (a, da), (b, db) in itertools.pairwise(late):
                if b - a < slack * INTERVAL:
                    found.append(f"outlet{outlet}: {da} then {db} {b - a:.2f}s apart")
        return found

    def file_alerts(self) -> list[dict[str, Any]]:
        """What every daemon's file receiver wrote (the receiver's owner may move)."""
        out = []
        for d in sorted(self.tmp.glob("d*/alerts.jsonl")):
            out += [json.loads(line) for line in d.read_text(encoding="utf-8").splitlines()]
        return out

    def posted(self) -> dict[str, list[dict[str, Any]]]:
        """Receiver -> the first alerts it got (posts), as they arrived."""
        got = {h: self.receivers.alerts(h) for h in self.hooks}
        got["desk-file"] = [a for a in self.file_alerts() if a["mode"] == "post"]
        return got

    def everything_posted(self) -> bool:
        return all(len({a["story_id"] for a in alerts}) >= STORIES
                   for alerts in self.posted().values())  # fmt: skip

    async def stop_all(self) -> None:
        """SIGTERM every daemon still running: each drains and exits 0."""
        codes = await asyncio.gather(*(d.stop() for d in self.daemons if d.running))
        for d in self.daemons:
            assert not d.running
        logs = "\n".join(d.log()[-3000:] for d in self.daemons)
        assert all(c == 0 for c in codes), f"exit codes {codes}:\n{logs}"

    def logs(self) -> str:
        return "\n".join(d.log() for d in self.daemons)


def owner_of(daemons: list[Daemon], role: str, receiver: str | None = None) -> Daemon | None:
    """The daemon whose log last says it took over (or kept) a partition of ``role``
    holding ``receiver`` (any, if None), if one did and still runs."""
    best: tuple[float, Daemon] | None = None
    for d in daemons:
        if not d.running:
            continue
        for n, line in enumerate(d.log().splitlines()):
            if f"role={role} " not in line or not re.search(r"\b(takeover|rebuilt) ", line):
                continue
            if receiver is not None and not re.search(rf"receivers=[^ ]*\b{receiver}\b", line):
                continue
            if best is None or n > best[0]:
                best = (n, d)
    return best[1] if best else None


def duplicates(alerts: list[dict[str, Any]]) -> dict[str, int]:
    """Alert ids that reached a receiver more than once, with their count."""
    return {k: n for k, n in Counter(a["alert_id"] for a in alerts).items() if n > 1}


async def metric(port: int, name: str) -> float:
    """The sum of a metric's samples on a daemon's /metrics (0 if it is gone)."""
    with contextlib.suppress(OSError):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        text = (await reader.read()).decode()
        writer.close()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name) and not line.startswith("#"))  # fmt: skip
    return 0.0


def port_of(daemon: Daemon) -> int:
    return int(re.search(r"listen: '127.0.0.1:(\d+)'", daemon.config.read_text())[1])  # type: ignore[index]


@contextlib.asynccontextmanager
async def scenario(tmp: Path, feeds: FeedServer, bootstrap: str, prefix: str, *,
                   delay: float = 0.0, hooks: int = 1) -> AsyncIterator[Scenario]:  # fmt: skip
    async with Receivers(delay) as receivers:
        s = Scenario(tmp, feeds, receivers, bootstrap, prefix, receiver_names(hooks))
        try:
            yield s
        finally:  # none left running, whatever happened; their logs closed
            await asyncio.gather(*(d.stop(signal.SIGKILL) for d in s.daemons))


async def test_three_daemons_alert_each_story_once_per_receiver(
    tmp_path: Path, feed_server: FeedServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with scenario(tmp_path, feed_server, kafka_bootstrap, topic_prefix, hooks=3) as s:
        for n in range(3):
            await s.start(n)
        await until(lambda: s.polls() >= 2, "every feed polled", 120)
        settled = time.monotonic()  # the group formed (a member joining moves feeds)
        await s.run_phases(range(1, PHASES + 1))
        await until(s.everything_posted, "every story posted to every receiver", 120)
        ended = time.monotonic()
        await s.stop_all()
        # the feeds' half of acceptance 1: each feed fetched once per interval, group-wide
        assert s.too_soon(settled) == []
        for outlet, fetches in s.fetched.items():
            inside = [f for f in fetches if settled <= f[0] < ended]
            assert len(inside) <= (ended - settled) / INTERVAL + 1, (outlet, len(inside))
        print("fetches per daemon", Counter(d for f in s.fetched.values() for _, d in f))
        posted = s.posted()
        for receiver, alerts in posted.items():
            assert len(alerts) == STORIES, (receiver, Counter(a["story_id"] for a in alerts))
            assert len({a["story_id"] for a in alerts}) == STORIES
        everything = [a for h in s.hooks for a in s.receivers.alerts(h, None)]
        assert duplicates(everything) == {}
        assert duplicates(s.file_alerts()) == {}
        for h in s.hooks:  # every story's copies are counted in it by the time it is told
            assert all(a["title"] for a in posted[h])
        assert "stories_aborted" not in s.logs()


async def test_a_fourth_daemon_joins_then_leaves_and_nothing_is_lost_or_repeated(
    tmp_path: Path, feed_server: FeedServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with scenario(tmp_path, feed_server, kafka_bootstrap, topic_prefix, hooks=3) as s:
        for n in range(3):
            await s.start(n)
        fourth: list[Daemon] = []

        async def join_then_leave(phase: int) -> None:
            if phase == 1:
                fourth.append(await s.start(3))
                await until(lambda: "partitions_assigned role=delivery" in fourth[0].log(),
                            "the fourth daemon in the group", 90)  # fmt: skip
            if phase == 3:
                assert await fourth[0].stop() == 0, fourth[0].log()[-3000:]

        await s.run_phases(range(1, PHASES + 1), join_then_leave)
        await until(s.everything_posted, "every story posted to every receiver", 120)
        await s.stop_all()
        for receiver, alerts in s.posted().items():
            assert len(alerts) == STORIES, (receiver, Counter(a["story_id"] for a in alerts))
        everything = [a for h in s.hooks for a in s.receivers.alerts(h, None)]
        assert duplicates(everything) == {}
        assert duplicates(s.file_alerts()) == {}
        ports = [port_of(d) for d in s.daemons]
        del ports  # the daemons are gone: the count is in their logs
        assert "alert_resent" not in s.logs()  # a clean handover repeats nothing
