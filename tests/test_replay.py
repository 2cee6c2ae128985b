"""Acceptance (backtest on the default install): `newsmon replay` over the 1,000 items
the state file retained gives the alerts live processing gave, on the real daemon."""

from __future__ import annotations

import json
from pathlib import Path

from feedserver import FeedServer, rss
from support.config import write_config
from support.daemon import newsmon
from support.samples import read_alerts

RULES = """rules:
  - {name: s400, keywords: ["S-400"], severity: high}
  - {name: sanctions, keywords: ["sanctions"], severity: medium}
"""
FEEDS, PER_FEED = 4, 250


SYLLABLES = ("ka", "lo", "mir", "tes", "van", "dor", "phi", "nu", "zel", "bra", "qui", "sen")


def word(n: int) -> str:
    """A made-up name of its own for story ``n``: stories share no rare word."""
    return "".join(SYLLABLES[(n // 12**k) % 12] for k in range(3)).capitalize()


def item(feed: int, n: int) -> str:
    """Item ``n`` of feed ``feed``: one in ten is news for the desk; each such story is
    carried by two feeds under one link, and some get a wire update in the same feed."""
    story = (feed // 2) * PER_FEED + n  # feeds 0 and 1 carry the same stories, 2 and 3 too
    if n % 10 == 0:
        title = f"{word(story)} takes delivery of S-400 battery from {word(story + 7)} plant"
    elif n % 10 == 1 and n > 10:
        buyer, plant = word(story - 1), word(story + 6)  # item n - 1's story, updated
        title = f"UPDATE 1-{buyer} takes delivery of S-400 battery from {plant} plant"
    elif n % 25 == 2:
        title = f"EU weighs sanctions on {word(story)} over {word(story + 3)} shipments"
    else:
        title = f"Local weather report {feed}-{n}: mild and dry"
    link = f"https://news.example/{story}" if n % 10 != 1 else f"https://wire{feed}.example/{n}"
    when = f"Fri, 12 Jul 2019 {6 + n // 60:02d}:{n % 60:02d}:00 GMT"
    return (f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
            f"<description>Officials confirmed the report on Friday.</description>"
            f"<pubDate>{when}</pubDate></item>")  # fmt: skip


def stories(lines: list[dict[str, object]]) -> set[tuple[object, ...]]:
    return {(a["story_id"], a["title"], tuple(sorted(a["rules"]))) for a in lines}  # type: ignore[call-overload]


async def test_replay_of_the_retained_items_gives_the_live_alerts(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    urls = {}
    for feed in range(FEEDS):
        body = "".join(item(feed, n) for n in range(PER_FEED))
        xml = f'<rss version="2.0"><channel><title>Outlet {feed}</title>{body}</channel></rss>'
        urls[f"f{feed}"] = feed_server.add(f"/f{feed}.xml", rss(xml.encode()))
    config = write_config(tmp_path, urls, rules="[rules.yaml]")
    code, _, err = await newsmon("run", "-c", str(config), "--once", timeout=180)
    assert code == 0, err
    live = [a for a in read_alerts(tmp_path) if a["event"] == "story.created"]  # not updates
    assert len(live) > 60  # the news, less the copies: a real sample

    out = tmp_path / "replay.jsonl"
    code, summary, err = await newsmon("replay", "-c", str(config), "--since", "30d",
                                       "--out", str(out), timeout=180)  # fmt: skip
    assert code == 0, err
    replayed = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert "replay: 1,000 items" in summary
    assert stories(replayed) == stories(live)
    assert len(replayed) == len(live)
