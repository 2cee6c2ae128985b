"""The daemon under hostile feeds: it stays up, the good feed keeps its
schedule, each bad feed's reason is recorded, memory stays bounded and no
request reaches a private listener."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from feedserver import (
    FeedServer,
    Handler,
    counting_feed,
    drip,
    endless,
    gzip_bomb,
    hang,
    redirect,
    rss,
    status,
)
from rss import descendants_peak_rss, peak_rss_bytes, reset_peak_rss

from monitor.alerts.sinks import schemas
from monitor.app import App
from monitor.config import load_config
from monitor.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[1]
ATTACKS = sorted((FIXTURES / "xml-attacks").glob("*.xml"))

EXPECTED_REASONS = {
    "status-500": "http_5xx",
    "hang": "timeout",
    "drip": "timeout",
    "gzip-bomb": "too_large",
    "endless": "too_large",
    "redirect-loop": "too_many_redirects",
    "to-loopback": "ssrf_blocked",
    "to-metadata": "ssrf_blocked",
    "to-file": "bad_scheme",
    "attack-cyclic": "xml_entities",
    "attack-dtd": "parse_error",
    "attack-external": "xml_entities",
    "attack-external_file": "xml_entities",
    "attack-quadratic": "xml_entities",
    "attack-xmlbomb": "xml_entities",
    "attack-xmlbomb2": "xml_entities",
}


def config(tmp: Path, servers: list[FeedServer], feeds: dict[str, str]) -> Path:
    lines = ["feeds:"]
    lines += [f"  - {{url: '{url}', name: {name}}}" for name, url in feeds.items()]
    lines += [
        f"rules: ['{ROOT}/rules/*.yaml']",
        f"state: {{path: {tmp}/state.db}}",
        f"fetch: {{allow_networks: {[f'127.0.0.1:{s.port}' for s in servers]}, timeout: 2s,"
        " max_bytes: 1MiB}",
        "schedule: {interval: 1s, min_interval: 1s, max_interval: 2s, max_backoff: 2s, jitter: 0}",
        "http: {enabled: false}",
        f"receivers: [{{name: desk, kind: file, path: {tmp}/alerts.jsonl}}]",
    ]
    path = tmp / "newsmon.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_daemon_survives_hostile_feeds(tmp_path: Path) -> None:
    reset_peak_rss()
    # processes this one started before (a session's Kafka broker, a JVM of 300+ MiB)
    # are not the daemon's: only what the daemon starts is measured
    before = set(descendants_peak_rss())
    # the good feed is another outlet (its own host): the hostile ones share theirs,
    # and with it the per-host fetch limit (2), as they would on the internet
    async with FeedServer() as server, FeedServer() as private, FeedServer() as outlet:
        private.add("/", status(200))
        loop_url = server.url("/redirect-loop")
        feeds = {
            "good": outlet.add("/good", counting_feed("S-400 story")),
            "big-author": server.add("/big-author", big_author_feed()),
            "status-500": server.add("/500", status(500)),
            "hang": server.add("/hang", hang),
            "drip": server.add("/drip", drip),
            "gzip-bomb": server.add("/bomb", gzip_bomb(1)),
            "endless": server.add("/endless", endless),
            "redirect-loop": server.add("/redirect-loop", redirect(loop_url)),
            "to-loopback": server.add("/to-loopback", redirect(private.url("/"))),
            "to-metadata": server.add(
                "/to-metadata", redirect("http://169.254.169.254/latest/meta-data/")
            ),
            "to-file": server.add("/to-file", redirect("file:///etc/passwd")),
        }
        for attack in ATTACKS:
            feeds[f"attack-{attack.stem}"] = server.add(f"/{attack.name}", rss(attack.read_bytes()))
        app = App(load_config(config(tmp_path, [server, outlet], feeds), receivers=schemas()))
        stop = asyncio.Event()
        daemon = asyncio.create_task(app.run(stop))
        await asyncio.sleep(7)
        assert not daemon.done(), "the daemon must stay up"
        workers = {
            pid: peak for pid, peak in descendants_peak_rss().items() if pid not in before
        }  # parse workers (and a new forkserver), after the attacks
        stop.set()
        await asyncio.wait_for(daemon, 30)

        good_polls = len(outlet.hits("/good"))
        assert good_polls >= 4, f"the good feed kept its 1 s schedule: {good_polls} polls in 7 s"
        assert private.requests == [], "nothing reached the private listener"

    with Store(tmp_path / "state.db") as store:
        reasons = {name: store.feed_state(url).last_reason for name, url in feeds.items()}
        for name, url in feeds.items():
            if name in EXPECTED_REASONS:
                assert store.feed_errors(url), f"{name}: error history kept"
    assert reasons == {**EXPECTED_REASONS, "good": "ok", "big-author": "ok"}
    lines = (tmp_path / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    titles = [json.loads(line)["title"] for line in lines]
    assert "S-400 story 1" in titles and "S-400 in a feed with a huge author" in titles
    assert peak_rss_bytes() < 300 * 1024 * 1024
    assert workers, "parse workers were measured"
    print(
        f"peak RSS: test process {peak_rss_bytes() / 2**20:.0f} MiB, parse workers "
        f"{', '.join(f'{peak / 2**20:.0f}' for peak in sorted(workers.values()))} MiB"
    )
    assert max(workers.values()) < 300 * 1024 * 1024


def big_author_feed() -> Handler:
    author = "a" * 100_000 + "@example.com"
    item = (
        f"<item><title>S-400 in a feed with a huge author</title><author>{author}</author>"
        "<link>https://x.example/big</link><guid>big-1</guid></item>"
    )
    return rss(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>{item}'
        "</channel></rss>".encode()
    )
