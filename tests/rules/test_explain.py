"""Why each rule matched an item or not, through the real loader and engine."""

from __future__ import annotations

from pathlib import Path

from support.records import item

from monitor.rules.engine import Engine
from monitor.rules.explain import explain
from monitor.rules.load import load_rules

PACK = """entities:
  - {name: S-400, aliases: ["С-400"]}
  - {name: Turkey, aliases: ["Türkiye"], weak: ["Ankara"]}
rules:
  - {name: turkey-s400, query: 'S-400 AND (Turkey OR Erdoğan) AND NOT "video game"'}
  - {name: f35, query: F-35}
  - {name: ankara, query: Turkey}
  - {name: both, keywords: [S-400, Patriot], min_terms: 2}
"""


def test_every_rule_says_why(tmp_path: Path) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text(PACK, encoding="utf-8")
    engine = Engine(load_rules([str(pack)]))

    def verdicts(title: str) -> dict[str, str]:
        return {v.rule: v.reason for v in explain(engine, item(title=title))}

    said = verdicts("S-400 batteries land in Greece")
    assert said["turkey-s400"] == "the query needs more: found S-400; not found Erdoğan, Turkey"
    assert said["f35"] == "no term of the rule found"
    assert said["both"] == "1 distinct term(s) found, min_terms is 2"
    assert verdicts("Talks in Ankara")["ankara"].startswith("only weak aliases found (Turkey)")
    assert verdicts("S-400 batteries land near Ankara")["turkey-s400"] == "matched"  # weak helps
    said = verdicts("Turkey's S-400 appears in a video game")
    assert said["turkey-s400"] == "excluded: 'video game' found"
    matched = {v.rule: v for v in explain(engine, item(title="Türkiye gets С-400")) if v.matched}
    assert set(matched) == {"turkey-s400", "ankara"}
    hit = matched["turkey-s400"]
    assert hit.hit is not None and set(hit.found) == {"S-400", "Turkey"}
