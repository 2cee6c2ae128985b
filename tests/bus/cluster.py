"""The scale-out scenario the cluster tests share: syndicated stories over several feeds,
released over several polls, and a group of real daemons polling them.

    scenario = Syndication(feed_server)           # 40 stories x 5 copies over 8 feeds
    async with Group(tmp_path, scenario, bootstrap, prefix, http=True) as group:
        await group.start("d1", "d2", "d3")       # `newsmon run`, one config each
        await group.until_owned(["d1", "d2", "d3"])  # every feed owned once; all ready
        await until(scenario.released, "every batch served")
        assert scenario.overlaps() == []          # no feed fetched by two daemons at once
        assert scenario.too_soon() == []          # each feed once per interval, group-wide
        scenario.shares()                          # fetches per daemon
        await group.metric("d1", "newsmon_cluster_feeds_owned")  # its /metrics (http=True)
        await group.ready("d1")                    # /readyz answers 200
    # on the way out every daemon still running gets SIGTERM and must exit 0
    published(bootstrap, prefix)                   # item id -> times in <prefix>.items
    matched(bootstrap, prefix)                     # item id -> times in <prefix>.matches

Stories: ``stories`` distinct headlines, each naming an entity the shipped rules follow
(S-400, F-35, a Patriot battery, sanctions) beside words of its own; each has ``copies``
syndicated copies (one outlet each, a link of its own, the headline as that outlet runs it)
spread over the feeds. Story ``s`` comes out in batch ``s % batches``; one copy in two a batch
later, so a story also grows after its first alert. Feed ``f``'s n-th fetch (by anyone)
serves the batches released by then (the n first, cumulatively), with an ETag naming them,
and 304 to a request that names the current one: what comes out depends on how often each
feed is fetched, never on the clock. Every fetch is recorded with the daemon that made it
(each daemon's ``fetch.user_agent`` is ``newsmon-test/<name>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web
from feedserver import FeedServer
from kafka import KafkaConsumer, TopicPartition
from support.config import file_receiver, write_config
from support.daemon import Daemon

from monitor.model import Item, Match, decode

OUTLETS = ("Reuters", "AP", "AFP", "Al Jazeera", "Daily Sabah", "TASS", "Yonhap", "DW")
ENTITIES = ("S-400", "F-35", "Patriot battery", "sanctions")
AGENT = "newsmon-test/"


@dataclass(frozen=True, slots=True)
class Copy:
    story: int
    outlet: str
    title: str
    link: str
    feed: int  # index of the feed that carries it
    batch: int  # the poll of its feed from which it is served (0: the first)


@dataclass(frozen=True, slots=True)
class Fetch:
    at: float  # time.monotonic() when the request arrived
    ended: float  # ... and when it was answered
    daemon: str  # the name in the daemon's user agent ("" if none)
    status: int


@dataclass
class _Feed:
    name: str
    copies: list[Copy] = field(default_factory=list)
    fetches: list[Fetch] = field(default_factory=list)


def headlines(stories: int, seed: int = 11) -> list[str]:
    """``stories`` headlines that share nothing but, at most, the entity they name."""
    rng = random.Random(seed)
    words = sorted({"".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3))
                    for _ in range(4000)})  # fmt: skip
    rng.shuffle(words)
    out, at = [], 0
    for s in range(stories):
        own = words[at : at + 7]
        at += 7
        out.append(
            f"{own[0].capitalize()} {own[1]} {ENTITIES[s % len(ENTITIES)]} {' '.join(own[2:])}"
        )
    return out


def as_run_by(outlet: str, title: str, n: int) -> str:
    """The headline as the ``n``-th outlet carrying it runs it (a wire copy's dressings)."""
    forms = (title, f"{title} - {outlet}", f"UPDATE 1-{title}", f"{title} | {outlet}",
             f"{title} ({outlet})")  # fmt: skip
    return forms[n % len(forms)]


class Syndication:
    """``stories`` x ``copies`` items over ``feeds`` feeds of ``server``, released over
    ``batches`` polls (one more for the late copies); see the module docstring."""

    def __init__(
        self, server: FeedServer, *, stories: int = 40, copies: int = 5, feeds: int = 8,
        batches: int = 4, interval: float = 2.0,
    ) -> None:  # fmt: skip
        self.server, self.interval, self.batches = server, interval, batches + 1
        self.started = datetime.now(UTC).replace(microsecond=0)
        self._feeds = [_Feed(f"syn{f}") for f in range(feeds)]
        self.titles = headlines(stories)
        self.copies: list[Copy] = []
        for s, title in enumerate(self.titles):
            for c in range(copies):
                outlet = OUTLETS[(s + c) % len(OUTLETS)]
                copy = Copy(s, outlet, as_run_by(outlet, title, c),
                            f"https://{outlet.lower().replace(' ', '')}.example/{s}/{c}",
                            (s + c) % feeds, s % batches + c % 2)  # fmt: skip
                self.copies.append(copy)
                self._feeds[copy.feed].copies.append(copy)
        self.feeds = {f.name: server.add(f"/{f.name}.xml", self._handler(f)) for f in self._feeds}

    # -- the feeds --------------------------------------------------------------

    def _handler(self, feed: _Feed) -> object:
        async def handler(request: web.Request) -> web.StreamResponse:
            at = time.monotonic()
            agent = request.headers.get("User-Agent", "")
            daemon = agent.split(AGENT, 1)[1].split()[0] if AGENT in agent else ""
            released = min(len(feed.fetches) + 1, self.batches)
            etag = f'"{feed.name}-{released}"'
            headers = {"Content-Type": "application/rss+xml", "ETag": etag}
            if request.headers.get("If-None-Match") == etag:
                response = web.Response(status=304, headers=headers)
            else:
                response = web.Response(body=self._body(feed, released), headers=headers)
            feed.fetches.append(Fetch(at, time.monotonic(), daemon, response.status))
            return response

        return handler

    def _body(self, feed: _Feed, released: int) -> bytes:
        items = []
        for copy in sorted(feed.copies, key=lambda c: (-c.batch, -c.story)):
            if copy.batch >= released:
                continue
            when = self.started - timedelta(minutes=60 - copy.batch * 5 - copy.story % 5)
            items.append(
                f"<item><title>{escape(copy.title)}</title><link>{escape(copy.link)}</link>"
                f"<guid>{escape(copy.link)}</guid><pubDate>{format_datetime(when)}</pubDate>"
                f"<description>{escape(copy.outlet)}: {escape(self.titles[copy.story])}."
                "</description></item>"
            )
        head = f'<rss version="2.0"><channel><title>{feed.name}</title>'
        link = f"<link>https://{feed.name}.example/</link>"
        return f"{head}{link}{''.join(items)}</channel></rss>".encode()

    # -- what happened ----------------------------------------------------------

    def released(self) -> bool:
        """Every feed has served its last batch."""
        return all(len(f.fetches) >= self.batches for f in self._feeds)

    def fetches(self) -> dict[str, list[Fetch]]:
        return {f.name: list(f.fetches) for f in self._feeds}

    def shares(self, since: float = 0.0) -> Counter[str]:
        """Fetches per daemon (arrived at or after ``since``, a time.monotonic())."""
        return Counter(x.daemon for f in self._feeds for x in f.fetches if x.at >= since)

    def pollers(self, since: float = 0.0, until: float = float("inf")) -> dict[str, set[str]]:
        """Feed name -> the daemons that fetched it in [since, until) (time.monotonic())."""
        return {f.name: {x.daemon for x in f.fetches if since <= x.at < until}
                for f in self._feeds}  # fmt: skip

    def overlaps(self) -> list[str]:
        """Fetches of one feed in flight at the same time (never, if one daemon polls it)."""
        found = []
        for f in self._feeds:
            for a, b in zip(f.fetches, f.fetches[1:], strict=False):
                if b.at < a.ended:
                    found.append(f"{f.name}: {a.daemon} and {b.daemon} at once")
        return found

    def too_soon(self, slack: float = 0.5) -> list[str]:
        """Consecutive fetches of one feed closer than ``slack`` x the interval. One daemon
        waits the interval between two polls of a feed (jitter 0 in these configs); the
        slack absorbs a poll that waited for its fetch slot and the next that did not. Two
        daemons polling one feed on their own schedules come closer sooner or later."""
        found = []
        for f in self._feeds:
            for a, b in zip(f.fetches, f.fetches[1:], strict=False):
                if b.at - a.at < slack * self.interval:
                    found.append(f"{f.name}: {a.daemon} then {b.daemon} {b.at - a.at:.2f}s apart")
        return found

    def items(self) -> int:
        return len(self.copies)


def bus_yaml(bootstrap: str, prefix: str, **overrides: object) -> str:
    """The Kafka bus section of the cluster tests: one group, fast joins (6 s sessions,
    Kafka's minimum), 3 partitions; a 20 s poll interval (the rebalance timeout: a
    revocation gives the polls in flight a quarter of it to finish)."""
    values: dict[str, object] = {
        "kind": "kafka", "bootstrap_servers": f"['{bootstrap}']", "topic_prefix": prefix,
        "group_id": prefix, "partitions": 3, "session_timeout": "6s",
        "heartbeat_interval": "1s", "max_poll_interval": "20s", "commit_interval": "200ms",
    }  # fmt: skip
    values.update(overrides)
    return "{" + ", ".join(f"{k}: {v}" for k, v in values.items()) + "}"


class Group:
    """Daemons of one Kafka group polling ``scenario``'s feeds, each with its own folder
    (config, state file, log, alerts file) under ``tmp``. ``receivers`` (YAML flow
    mappings; ``{dir}`` becomes the daemon's folder) default to a file receiver in it."""

    def __init__(
        self, tmp: Path, scenario: Syndication, bootstrap: str, prefix: str, *,
        receivers: Sequence[str] = (), bus: dict[str, object] | None = None,
        extra: str = "", http: bool = False,
    ) -> None:  # fmt: skip
        self.tmp, self.scenario = tmp, scenario
        self.bus = bus_yaml(bootstrap, prefix, **(bus or {}))
        self.receivers, self.extra, self.http = tuple(receivers), extra, http
        self.daemons: dict[str, Daemon] = {}

    def folder(self, name: str) -> Path:
        return self.tmp / name

    def config(self, name: str) -> Path:
        """Write daemon ``name``'s config (the same but for its folder and user agent)."""
        folder = self.folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        every = f"{self.scenario.interval:g}s"
        feeds = [f"{{url: '{url}', name: {n}, interval: {every}}}"
                 for n, url in self.scenario.feeds.items()]  # fmt: skip
        receivers = [r.replace("{dir}", str(folder)) for r in self.receivers] or [
            file_receiver(folder)
        ]
        return write_config(
            folder, feeds, receivers=receivers,
            fetch=f"{{allow_networks: ['127.0.0.1/32'], timeout: 5s,"
                  f" user_agent: '{AGENT}{name}'}}",
            http="{listen: '127.0.0.1:0'}" if self.http else "{enabled: false}",
            schedule=f"{{interval: {every}, min_interval: 1s, jitter: 0}}",
            bus=self.bus, extra=self.extra,
        )  # fmt: skip

    async def start(self, *names: str) -> None:
        for name in names:
            daemon = Daemon(self.config(name))
            await daemon.start()
            self.daemons[name] = daemon

    async def stop(self, name: str, timeout: float = 90) -> int:
        """SIGTERM daemon ``name``; its exit code."""
        return await self.daemons.pop(name).stop(timeout=timeout)

    async def kill(self, name: str) -> int:
        return await self.daemons.pop(name).kill()

    def log(self, name: str) -> str:
        path = self.folder(name) / "newsmon.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def port(self, name: str) -> int:
        """Daemon ``name``'s HTTP port (``http=True``), from its log."""
        found = re.findall(r"http_listening address=127\.0\.0\.1:(\d+)", self.log(name))
        assert found, f"{name} has no HTTP server (yet)"
        return int(found[-1])

    async def get(self, name: str, path: str) -> tuple[int, str]:
        timeout = aiohttp.ClientTimeout(total=5)
        url = f"http://127.0.0.1:{self.port(name)}{path}"
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as r:
            return r.status, await r.text()

    async def ready(self, name: str) -> bool:
        """Whether daemon ``name``'s /readyz answers 200 (False if it does not answer)."""
        try:
            return (await self.get(name, "/readyz"))[0] == 200
        except (AssertionError, aiohttp.ClientError, TimeoutError):
            return False

    async def metric(self, name: str, metric: str, labels: str = "") -> float:
        """``metric{labels}`` (labels as exported: 'role="feeds"') on daemon ``name``."""
        _, text = await self.get(name, "/metrics")
        wanted = f"{metric}{{{labels}}}" if labels else metric
        for line in text.splitlines():
            if line.startswith(wanted + " "):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"{wanted} not in {name}'s /metrics")

    async def owned(self, names: Iterable[str]) -> dict[str, int]:
        """Feeds each daemon polls now (newsmon_cluster_feeds_owned)."""
        return {n: int(await self.metric(n, "newsmon_cluster_feeds_owned")) for n in names}

    async def until_owned(self, names: Sequence[str], timeout: float = 90) -> dict[str, int]:
        """Wait until the daemons ``names`` between them own every feed, and all are ready;
        what each owns then. (A feed owned twice would make the sum too big.)"""
        total, got = len(self.scenario.feeds), {}

        async def settled() -> bool:
            nonlocal got
            try:
                got = await self.owned(names)
            except (AssertionError, aiohttp.ClientError, TimeoutError):
                return False  # not listening yet
            return sum(got.values()) == total and all([await self.ready(n) for n in names])

        try:
            async with asyncio.timeout(timeout):
                while not await settled():
                    await asyncio.sleep(0.2)
        except TimeoutError:
            raise TimeoutError(f"feeds owned {got} of {total}:\n{self.logs(names)}") from None
        return got

    def posts(self) -> Counter[str]:
        """Story id -> first alerts (posts) the file receiver wrote, over every daemon's
        folder (the receiver's owner may move)."""
        got: Counter[str] = Counter()
        for path in sorted(self.tmp.glob("*/alerts.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                alert = json.loads(line)
                if alert["mode"] == "post":
                    got[alert["story_id"]] += 1
        return got

    def members(self) -> dict[str, set[str]]:
        """Story id -> the link keys of its members (scheme left out), as the daemons'
        state files hold them (each follows ``<prefix>.stories``)."""
        got: dict[str, set[str]] = {}
        for path in sorted(self.tmp.glob("*/state.db")):
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                for story, link in db.execute("SELECT story_id, link_key FROM story_members"):
                    got.setdefault(story, set()).add(link)
        return got

    def resent(self) -> int:
        """Sends the daemons repeated knowingly: the documented delivery window (each
        one logged ``alert_resent``; the logs outlive a restart, the counters do not)."""
        return sum(self.log(n).count(" alert_resent ") for n in self._names())

    def _names(self) -> list[str]:
        return sorted(p.parent.name for p in self.tmp.glob("*/newsmon.log"))

    def logs(self, names: Iterable[str] | None = None) -> str:
        return "\n".join(f"--- {n}:\n{self.log(n)[-3000:]}" for n in names or self.daemons)

    async def __aenter__(self) -> Group:
        return self

    async def __aexit__(self, exc_type: object, *_: object) -> None:
        codes = dict(zip(self.daemons, await asyncio.gather(
            *(d.stop() for d in self.daemons.values())), strict=True))  # fmt: skip
        failed = {n: c for n, c in codes.items() if c != 0}
        if exc_type is None:
            assert not failed, f"daemons exited {failed}:\n{self.logs(failed)}"


def read_topic(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) of every record of ``topic`` (no group), up to its end offsets now."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        got: list[tuple[bytes | None, bytes | None]] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            assert time.monotonic() < deadline, f"{topic}: not read to its end"
            for records in consumer.poll(timeout_ms=500).values():
                got += [(r.key, r.value) for r in records]
        return got
    finally:
        consumer.close(autocommit=False)


def published(bootstrap: str, prefix: str) -> Counter[str]:
    """Item id -> how many times it is in ``<prefix>.items``."""
    items = (decode(value) for _, value in read_topic(bootstrap, f"{prefix}.items") if value)
    return Counter(item.id for item in items if isinstance(item, Item))


def matched(bootstrap: str, prefix: str) -> Counter[str]:
    """Item id -> how many times a match of it is in ``<prefix>.matches``."""
    matches = (decode(value) for _, value in read_topic(bootstrap, f"{prefix}.matches") if value)
    return Counter(m.item.id for m in matches if isinstance(m, Match))


async def until_in(count: object, want: int, what: str, timeout: float = 120) -> None:
    """Wait until ``count()`` (``published``/``matched`` bound to a broker and prefix, run
    in a thread) has ``want`` distinct items."""

    async def enough() -> bool:
        return len(await asyncio.to_thread(count)) >= want  # type: ignore[arg-type]

    try:
        async with asyncio.timeout(timeout):
            while not await enough():
                await asyncio.sleep(0.5)
    except TimeoutError:
        raise TimeoutError(f"gave up waiting for {want} {what} after {timeout:g}s") from None
