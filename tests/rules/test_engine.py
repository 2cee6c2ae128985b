from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.model import Item
from monitor.rules.engine import Engine
from monitor.rules.load import Rule, load_rules

RULES = (
    Rule("s400", ("S-400", "Triumf"), severity="high", labels=(("desk", "defence"),)),
    Rule("f35", ("F-35",), fields="title"),
    Rule("sanctions", ("sanctions",), fields="summary"),
)


def item(title: str, summary: str = "") -> Item:
    return Item(
        id="1", feed_url="https://f.example/", feed="f", source="F", title=title, summary=summary
    )


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        ("Turkey takes S-400 delivery", "", ("s400",)),
        ("turkey takes s-400 delivery", "", ("s400",)),  # case-insensitive
        ("The S-4000 is not a thing", "", ()),  # whole words only
        ("F-350 pickup recall", "", ()),
        ("F-35 programme", "", ("f35",)),
        ("Programme news", "The F-35 again", ()),  # f35 looks at the title only
        ("New sanctions", "", ()),  # sanctions looks at the summary only
        ("Triumf and F-35", "US weighs sanctions", ("s400", "f35", "sanctions")),
    ],
)
def test_match(title: str, summary: str, expected: tuple[str, ...]) -> None:
    assert tuple(h.rule for h in Engine(RULES).match(item(title, summary))) == expected


def test_hit_carries_evidence_and_routing_facts() -> None:
    (hit,) = Engine(RULES).match(item("Deal for the s-400 Triumf"))
    assert hit.severity == "high" and hit.labels == (("desk", "defence"),)
    assert [(e.term, e.field, e.text, e.start, e.end) for e in hit.evidence] == [
        ("S-400", "title", "s-400", 13, 18),
        ("Triumf", "title", "Triumf", 19, 25),
    ]


def test_load_rules_reports_every_problem_with_file_and_line(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    a.write_text(
        "rules:\n"
        "  - name: ok\n"
        "    keywords: [x]\n"
        "  - name: bad-severity\n"
        "    keywords: [y]\n"
        "    severity: urgent\n"
        "  - name: typo\n"
        "    keyword: [z]\n",
        encoding="utf-8",
    )
    b = tmp_path / "b.yaml"
    b.write_text("rules:\n  - name: ok\n    keywords: [w]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules([str(a), str(b)])
    messages = [str(p) for p in caught.value.problems]
    assert f"{a}:6: 'severity' must be one of low, medium, high, critical" in messages
    assert f"{a}:8: unknown key 'keyword' (did you mean 'keywords'?)" in messages
    assert f"{b}:2: rule name 'ok' already used at {a}:2" in messages


def test_load_rules_reports_yaml_syntax_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    keywords: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{bad}:\d+: YAML syntax"):
        load_rules([str(bad)])


def test_shipped_rule_pack_loads() -> None:
    rules = load_rules([str(Path(__file__).parents[2] / "rules" / "defense.yaml")])
    assert {"s400", "f35", "sanctions"} <= {r.name for r in rules}
