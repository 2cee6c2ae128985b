"""``newsmon feeds``: the configured feeds listed, and exported as OPML 2.0 that the
config's own ``opml:`` include reads back as the same feeds; secrets never leave."""

from __future__ import annotations

import os
from pathlib import Path
from xml.etree import ElementTree

import pytest
from support.daemon import newsmon

from monitor.alerts.sinks import schemas
from monitor.config import load_config
from monitor.config.feeds import parse_opml, write_opml

SECRET = "s3cr3t-feed-token"
CONFIG = """\
feeds:
  - https://wire.example/rss
  - url: "https://reuters.example/world?x=1&y=2"
    name: "Reuters <World> & \\"more\\""
    interval: 2m
  - {url: "https://paid.example/feed?token=${FEED_TOKEN}", name: Paid}
  - {url: "https://reader:${FEED_PASSWORD}@private.example/atom", interval: 1h30m}
  - {url: "https://bob:plainpass@legacy.example/rss"}
  - file: more.txt
  - opml: subscriptions.opml
rules: []
schedule: {interval: 10m, max_interval: 2h}
http: {enabled: false}
"""
MORE = "https://tass.example/rss.xml TASS\n"
SUBSCRIPTIONS = """<?xml version="1.0"?><opml version="1.0"><body>
<outline text="Defence"><outline text="Defense News" xmlUrl="https://dn.example/rss"/></outline>
</body></opml>"""
ENV = {**os.environ, "FEED_TOKEN": SECRET, "FEED_PASSWORD": SECRET}


def configured(tmp_path: Path) -> Path:
    (tmp_path / "more.txt").write_text(MORE, encoding="utf-8")
    (tmp_path / "subscriptions.opml").write_text(SUBSCRIPTIONS, encoding="utf-8")
    config = tmp_path / "newsmon.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    return config


def feeds_of(config: Path) -> list[tuple[str, str]]:
    return [(f.url, f.name) for f in load_config(config, receivers=schemas()).feeds]


async def test_feeds_lists_name_url_and_interval(tmp_path: Path) -> None:
    code, out, err = await newsmon("feeds", "-c", str(configured(tmp_path)), env=ENV)
    assert code == 0, err
    head, *rows = out.splitlines()
    assert head.split() == ["NAME", "URL", "INTERVAL"] and len(rows) == 7
    assert rows[0].split() == ["https://wire.example/rss", "https://wire.example/rss", "10m",
                               "(default)"]  # fmt: skip
    assert rows[1].startswith('Reuters <World> & "more"') and rows[1].endswith("  2m")
    assert "https://paid.example/feed?token=${FEED_TOKEN}" in rows[2]
    assert "https://***@private.example/atom" in rows[3] and rows[3].endswith("1h30m")
    assert "https://***@legacy.example/rss" in rows[4] and "plainpass" not in out
    assert rows[5].startswith("TASS") and rows[6].startswith("Defense News")
    assert SECRET not in out + err


async def test_opml_export_reads_back_as_the_same_feeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEED_TOKEN", SECRET)
    monkeypatch.setenv("FEED_PASSWORD", SECRET)
    config = configured(tmp_path)
    code, out, err = await newsmon("feeds", "-c", str(config), "--opml", env=ENV)
    assert code == 0, err
    assert SECRET not in out and "plainpass" not in out
    root = ElementTree.fromstring(out.encode())
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "newsmon feeds" and root.findtext("head/dateCreated")
    outlines = root.findall("body/outline")
    assert [o.get("type") for o in outlines] == ["rss"] * 7
    assert outlines[1].attrib == {
        "type": "rss", "text": 'Reuters <World> & "more"', "title": 'Reuters <World> & "more"',
        "xmlUrl": "https://reuters.example/world?x=1&y=2",
    }  # fmt: skip

    back = tmp_path / "back"
    back.mkdir()
    (back / "exported.opml").write_text(out, encoding="utf-8")
    (back / "newsmon.yaml").write_text(
        "feeds: [{opml: exported.opml}]\nrules: []\nhttp: {enabled: false}\n", encoding="utf-8"
    )
    assert feeds_of(back / "newsmon.yaml") == feeds_of(config)
    code, again, err = await newsmon("feeds", "-c", str(back / "newsmon.yaml"), "--opml")
    assert code == 0, err
    assert again.split("<body>")[1] == out.split("<body>")[1]  # a fixed point


def test_the_writer_escapes_names_and_drops_what_xml_cannot_carry() -> None:
    data = write_opml([("https://a.example/rss", 'A & <b> "q"\x00\x1b[2J'),
                       ("https://b.example/?a=1&b=<2>", "B\r\nTwo lines")])  # fmt: skip
    assert [(e.url, e.name) for e in parse_opml(data)] == [
        ("https://a.example/rss", 'A & <b> "q"[2J'),
        ("https://b.example/?a=1&b=<2>", "B Two lines"),
    ]


async def test_a_broken_config_is_reported_not_exported(tmp_path: Path) -> None:
    config = tmp_path / "newsmon.yaml"
    config.write_text("feeds: [ftp://nope.example/x]\nrules: []\n", encoding="utf-8")
    code, out, err = await newsmon("feeds", "-c", str(config), "--opml")
    assert code == 1 and out == ""
    assert f"{config}:1: feed URL: expected an http(s) URL" in err
