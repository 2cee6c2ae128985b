"""`newsmon test-rule`: the real command over a fixture feed, a JSONL file and a URL."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from feedserver import FeedServer, rss

from monitor.model import Item, encode

ROOT = Path(__file__).parents[2]
FEED = ROOT / "tests" / "fixtures" / "rules" / "turkey.xml"
PACK = str(ROOT / "rules" / "defense.yaml")


def newsmon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip


def test_feed_file_shows_rules_terms_fields_spans_and_scores() -> None:
    done = newsmon("test-rule", PACK, "--feed", str(FEED))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for line in [
        "item 1: 'Ankara’s S‑400s arrive as Erdogn rejects sanctoins' <https://rules.example/1>",
        "  MATCH s400 severity=high desk=defence topic=air-defence",
        "    S-400: title[9:15] 'S‑400s'",
        "    S-400: summary[4:17] 'SA-21 Growler'",
        "    sanctions: title[41:50] 'sanctoins' fuzzy=88.9",
        "    Erdoğan: title[26:32] 'Erdogn' fuzzy=92.3",
        "  MATCH turkey-air-defence severity=critical desk=defence topic=turkey",
        "    Turkey: title[0:6] 'Ankara'",
        "    Turkey: summary[46:53] 'Türkiye'",
        "item 2: 'Ford F-350 recall widens' <https://rules.example/2>",
        "  no rule matched",
        "    F-35: title[0:5] 'F-35A'",
        "    S-400: title[9:14] 'С-400'",
        "    Erdoğan: title[0:7] 'Эрдоган'",
    ]:
        assert line in out.splitlines(), f"{line!r} not in:\n{out}"
    assert out.splitlines()[-1].startswith("3 of 4 items matched; by rule: s400=2, f35=1")


def test_items_jsonl_plain_and_enveloped(tmp_path: Path) -> None:
    items = [Item(id="1", feed_url="u", feed="f", source="s", title="Patriot PAC-3 battery"),
             Item(id="2", feed_url="u", feed="f", source="s", title="Quiet day")]  # fmt: skip
    path = tmp_path / "items.jsonl"
    lines = [json.dumps(items[0].to_dict()), encode(items[1]).decode()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = newsmon("test-rule", PACK, "--items", str(path))
    assert done.returncode == 0, done.stderr
    assert "    PAC-3: title[8:13] 'PAC-3'" in done.stdout
    assert "1 of 2 items matched" in done.stdout


def test_bad_rule_file_exits_1_with_file_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    query: '(S-400'\n", encoding="utf-8")
    done = newsmon("test-rule", str(bad), "--feed", str(FEED))
    assert done.returncode == 1
    assert done.stderr.startswith(f"{bad}:3: rule 'x': query column 7: expected ')'")


async def test_feed_url_through_the_guarded_fetcher(feed_server: FeedServer) -> None:
    url = feed_server.add("/turkey.xml", rss(FEED.read_bytes()))
    refused = await asyncio.to_thread(newsmon, "test-rule", PACK, "--feed", url)
    assert refused.returncode == 1 and "ssrf_blocked" in refused.stderr
    done = await asyncio.to_thread(newsmon, "test-rule", PACK, "--feed", url, "--allow-private")
    assert done.returncode == 0, done.stderr
    assert "3 of 4 items matched" in done.stdout


def test_near_miss_warnings_are_printed_beside_the_matches(tmp_path: Path) -> None:
    pack = tmp_path / "navy.yaml"
    pack.write_text(
        "entities:\n  - {name: PLA}\nrules:\n  - {name: navy, query: PLAN OR title:drills}\n",
        encoding="utf-8",
    )
    done = newsmon("test-rule", str(pack), "--feed", str(FEED))
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"{pack}:4: warning: rule 'navy': term 'PLAN' is not an entity; did you mean 'PLA'?"
    ]
    assert "by rule: navy=0" in done.stdout
