"""Kafka feeds role: with 3 daemons in one group, each does about a third of the polling.

The same config (FEEDS local feeds, every INTERVAL seconds, ``bus.partitions`` 6) runs
first as one daemon (the baseline of this run: it polls every feed), then as a group of
three. Each daemon's polls are read from its ``newsmon_feed_fetches_total`` over the
same WINDOW once the group has settled (every feed owned, by someone, once); the feed
server records each request, from which the feeds polled twice within half an interval
(two owners at once) are counted.
Targets: each of the three polls 33 % +- 10 points of the group's polls; the group
polls as the schedule says (within 10 % of FEEDS x WINDOW / INTERVAL: each feed once
per interval, not three times); no feed polled twice within half an interval. The one
daemon's polls are printed beside them (on a loaded machine it may fall behind).

Needs a broker: ``KAFKA_BOOTSTRAP_SERVERS``, else Apache Kafka as the tests start it.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from bench.kafka import _broker
from bench.localfeeds import LocalFeeds, Plan

FEEDS = 240
INTERVAL = 5.0
WINDOW = 30.0
ROOT = Path(__file__).resolve().parents[1]


def _config(folder: Path, feeds: LocalFeeds, bootstrap: str, prefix: str) -> Path:
    every = f"{INTERVAL:g}s"
    lines = ["feeds:"]
    lines += [f"  - {{url: '{feeds.url(n)}', interval: {every}}}" for n in range(FEEDS)]
    lines += [
        f"rules: ['{ROOT}/rules/*.yaml']",
        f"state: {{path: {folder / 'state.db'}}}",
        "fetch: {allow_networks: ['127.0.0.1/32'], timeout: 5s, per_host: 200}",  # one host
        "http: {listen: '127.0.0.1:0'}",
        f"schedule: {{interval: {every}, min_interval: 1s, jitter: 0}}",
        f"bus: {{kind: kafka, bootstrap_servers: ['{bootstrap}'], topic_prefix: {prefix},"
        f" group_id: {prefix}, partitions: 6, session_timeout: 6s, heartbeat_interval: 1s,"
        " max_poll_interval: 20s}",
        "receivers:",
        f"  - {{name: desk-file, kind: file, path: {folder / 'alerts.jsonl'}}}",
    ]
    path = folder / "newsmon.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class _Daemon:
    def __init__(self, folder: Path, config: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.log_path = folder / "newsmon.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed by stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "run", "-c", str(config)],
            stdout=subprocess.DEVNULL, stderr=self._log,
        )  # fmt: skip

    def metric(self, name: str) -> float:
        """The sum of ``name`` over its labels on this daemon's /metrics (0 if none yet)."""
        log = self.log_path.read_text(encoding="utf-8", errors="replace")
        ports = re.findall(r"http_listening address=127\.0\.0\.1:(\d+)", log)
        if not ports:
            return 0.0
        with urllib.request.urlopen(f"http://127.0.0.1:{ports[-1]}/metrics", timeout=5) as r:
            text = r.read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if re.match(rf"{name}(\{{| )", line))  # fmt: skip

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def _settled(daemons: list[_Daemon], timeout: float = 120) -> float:
    """Wait until the daemons own every feed between them, each some; seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        owned = [d.metric("newsmon_cluster_feeds_owned") for d in daemons]
        if sum(owned) == FEEDS and all(owned):
            return time.monotonic() - start
        time.sleep(0.5)
    raise RuntimeError(f"the group did not settle in {timeout:g}s: {owned} feeds owned")


def _phase(tmp: Path, bootstrap: str, n: int) -> tuple[list[float], float, int]:
    """``n`` daemons of a fresh group over WINDOW: each one's polls, the seconds to
    settle, and the feeds polled twice within half an interval."""
    prefix = f"share{uuid.uuid4().hex[:6]}"
    with LocalFeeds(Plan()) as feeds:
        daemons = []
        try:
            for k in range(n):
                folder = tmp / f"{prefix}-d{k + 1}"
                folder.mkdir(parents=True)
                daemons.append(_Daemon(folder, _config(folder, feeds, bootstrap, prefix)))
            took = _settled(daemons)
            time.sleep(INTERVAL)  # the first round of the last assignment
            before = [d.metric("newsmon_feed_fetches_total") for d in daemons]
            began = time.monotonic()
            time.sleep(WINDOW)
            ended = time.monotonic()
            polls = [d.metric("newsmon_feed_fetches_total") - b
                     for d, b in zip(daemons, before, strict=True)]  # fmt: skip
        finally:
            for daemon in daemons:
                daemon.stop()
        requests = feeds.requests()
    twice = sum(
        any(b - a < INTERVAL / 2 for a, b in itertools.pairwise(at))
        for at in ([t for t in times if began <= t <= ended] for times in requests.values())
    )
    return polls, took, twice


def _measure(bootstrap: str) -> bool:
    with tempfile.TemporaryDirectory(prefix="newsmon-bench-share-") as name:
        tmp = Path(name)
        (alone,), _, _ = _phase(tmp, bootstrap, 1)
        polls, took, twice = _phase(tmp, bootstrap, 3)
    total, scheduled = sum(polls), FEEDS * WINDOW / INTERVAL
    shares = [p / total if total else 0.0 for p in polls]
    ratio = total / scheduled
    met = all(abs(s - 1 / 3) <= 0.10 for s in shares) and abs(ratio - 1) <= 0.10 and not twice
    each = ", ".join(f"{p:,.0f} ({s:.0%})" for p, s in zip(polls, shares, strict=True))
    print(f"cluster share: {FEEDS} feeds every {INTERVAL:g} s, {WINDOW:g} s window, the"
          f" schedule {scheduled:,.0f} polls; one daemon polled {alone:,.0f}; three (settled in"
          f" {took:.1f} s): {each}, together {total:,.0f} ({ratio:.2f}x the schedule), {twice}"
          f" feeds polled twice in half an interval (target each 33% +- 10 points, together"
          f" within 10% of the schedule, none twice: {'met' if met else 'MISSED'})")  # fmt: skip
    return met


def run() -> bool:
    bootstrap, broker = _broker()
    try:
        return _measure(bootstrap)
    finally:
        if broker is not None:
            broker.close()
