"""Acceptance (audit): `newsmon stories`, `stories show` and `explain` on a scenario run
by the real daemon: every member with why it joined, a near miss with its veto, and
explain on a matched, an unmatched and a folded item."""

from __future__ import annotations

import json
from pathlib import Path

from feedserver import FeedServer, rss
from support.config import write_config
from support.daemon import newsmon

RULES = """rules:
  - {name: s400, keywords: ["S-400"], severity: high}
"""
LEAD = ("Russia is ready to share some of the technology behind its S-400 air defence"
        " system with Turkey as part of a deal for a second regiment, the head of the"
        " state arms exporter said on Friday.")  # fmt: skip


def channel(title: str, items: list[tuple[str, str, str]]) -> bytes:
    body = "".join(f"<item><title>{t}</title><link>{link}</link><description>{d}</description>"
                   "<pubDate>Fri, 12 Jul 2019 06:05:00 GMT</pubDate></item>"
                   for t, link, d in items)  # fmt: skip
    return f'<rss version="2.0"><channel><title>{title}</title>{body}</channel></rss>'.encode()


async def test_the_audit_says_why_each_item_joined_or_not(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    wire = channel("Anka Wire", [
        ("Russia to share S-400 technology with Turkey", "https://anka.example/s400", LEAD),
        ("Local weather: mild and dry", "https://anka.example/weather", "Sunny."),
    ])  # fmt: skip
    other = channel("Baltic Post", [
        ("UPDATE 1-Russia to share S-400 technology with Turkey - Reuters",
         "https://baltic.example/s400-update", LEAD),
        ("Russia to deliver S-400 systems to India next year", "https://baltic.example/india",
         "Russia will deliver the remaining S-400 regiments to India next year, officials said."),
    ])  # fmt: skip
    config = write_config(tmp_path, [feed_server.add("/wire.xml", rss(wire)),
                                     feed_server.add("/other.xml", rss(other))],
                          rules="[rules.yaml]")  # fmt: skip
    code, _, err = await newsmon("run", "-c", str(config), "--once")
    assert code == 0, err

    listed = (await newsmon("stories", "-c", str(config), "--json")).out.splitlines()
    stories = {
        ("Turkey" if "Turkey" in s["title"] else "India"): s for s in map(json.loads, listed)
    }  # the first member, whichever came first
    assert len(listed) == 2 and set(stories) == {"Turkey", "India"}
    turkey = stories["Turkey"]
    assert turkey["members"] == 2 and sorted(turkey["outlets"]) == ["Anka Wire", "Baltic Post"]

    shown = await newsmon("stories", "show", turkey["story_id"], "-c", str(config), "--json")
    audit = json.loads(shown.out)
    first, copy = audit["members"]
    assert first["why"] == "first: started the story"
    assert copy["tier"] == "copy" and f"of {first['source']}: {first['title']!r}" in copy["why"]
    assert [d["receiver"] for d in audit["deliveries"]] == ["desk-file"]
    india = stories["India"]
    near = json.loads((await newsmon("stories", "show", india["story_id"], "-c", str(config),
                                     "--json")).out)["near_miss"]  # fmt: skip
    assert near is None or "story " in near  # when it came second, the story it nearly joined
    table = (await newsmon("stories", "show", turkey["story_id"], "-c", str(config))).out
    assert "copy (score" in table and "-> desk-file: alert sent" in table

    matched = json.loads((await newsmon("explain", "https://anka.example/s400", "-c",
                                        str(config), "--json")).out)  # fmt: skip
    assert matched["rules"] == [{"rule": "s400", "matched": True, "reason": "matched",
                                 "found": ["S-400"]}]  # fmt: skip
    folded = json.loads((await newsmon("explain", "https://baltic.example/s400-update", "-c",
                                       str(config), "--json")).out)  # fmt: skip
    assert matched["story"]["story_id"] == folded["story"]["story_id"] == turkey["story_id"]
    assert {matched["story"]["member"]["tier"], folded["story"]["member"]["tier"]} == {
        "first",
        "copy",
    }  # one started it, the other was folded into it
    missed = await newsmon("explain", "https://anka.example/weather", "-c", str(config))
    assert missed.code == 0, missed.err
    assert "no    s400: no term of the rule found" in missed.out and "story: none" in missed.out
    gone = await newsmon("explain", "https://nowhere.example/x", "-c", str(config))
    assert gone.code == 1 and "no item" in gone.err
