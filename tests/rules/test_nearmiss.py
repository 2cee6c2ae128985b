"""Near misses: a query term one edit from an entity, a field scope one edit from a
field. Warned about with a did-you-mean; words written on purpose stay quiet."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from monitor.errors import Problem
from monitor.rules.load import load_rules

ENTITIES = """\
entities:
  - {name: PLA, aliases: ["People's Liberation Army"]}
  - {name: Iran}
  - {name: Erdoğan}
  - {name: S-400, variants: [M]}
  - {name: F-35}
  - {name: Russia, aliases: [Russian], weak: [Moscow]}
  - {name: tech transfer}
  - {name: Gripen}
  - {name: Grippen}
"""


def warnings(tmp_path: Path, rules: str) -> list[str]:
    path = tmp_path / "pack.yaml"
    path.write_text(ENTITIES + "rules:\n" + rules, encoding="utf-8")
    found: list[Problem] = []
    load_rules([str(path)], found)
    return [str(w).removeprefix(f"{path}:") for w in found]


@pytest.mark.parametrize(
    ("query", "warning"),
    [
        ("PLAN", "term 'PLAN' is not an entity; did you mean 'PLA'?"),  # a letter added
        ("Erdogn AND x", "term 'Erdogn' is not an entity; did you mean 'Erdoğan'?"),  # deleted
        ("Erdgoan", "term 'Erdgoan' is not an entity; did you mean 'Erdoğan'?"),  # swapped
        ("erdogen", "term 'erdogen' is not an entity; did you mean 'Erdoğan'?"),  # changed
        ("techtransfer", "term 'techtransfer' is not an entity; did you mean 'tech transfer'?"),
        ('"S-400 Triumf" OR Irans', "term 'Irans' is not an entity; did you mean 'Iran'?"),
        ("Grippn", "term 'Grippn' is not an entity; did you mean 'Gripen' or 'Grippen'?"),
        ("titel:Iran", "term 'titel:Iran' is not a field scope; did you mean 'title:Iran'?"),
        ("Title:Iran", "term 'Title:Iran' is not a field scope; did you mean 'title:Iran'?"),
        ("x OR sumary:PLA", "term 'sumary:PLA' is not a field scope; did you mean 'summary:PLA'?"),
    ],
)
def test_a_near_miss_is_warned_with_what_was_meant(
    tmp_path: Path, query: str, warning: str
) -> None:
    assert warnings(tmp_path, f"  - name: r\n    query: '{query}'\n") == [
        f"{len(ENTITIES.splitlines()) + 3}: warning: rule 'r': {warning}"
    ]


@pytest.mark.parametrize(
    "query",
    [
        'PLA OR pla OR S400 OR "s 400" OR Erdogan OR ERDOĞAN OR f35',  # entities, any form
        'Russian OR Moscow OR "People\'s Liberation Army"',  # aliases, weak ones too
        "S-300 OR S-400M OR F-35A OR F-15 OR SU-35 OR F-36",  # other designators, variants
        "Iraq OR Oman OR EU OR PL",  # a 4-letter substitution, short words
        "title:Iran OR summary:PLA OR http:x OR Reuters:Iran",  # real scopes, other colons
        "plans OR Erdoğanism OR techtransfers OR sanctions",  # two edits or more
    ],
)
def test_words_written_on_purpose_are_not_warned(tmp_path: Path, query: str) -> None:
    quoted = "'" + query.replace("'", "''") + "'"
    assert warnings(tmp_path, f"  - name: r\n    query: {quoted}\n") == []


def test_keyword_and_exclude_terms_are_warned_at_their_own_line(tmp_path: Path) -> None:
    got = warnings(
        tmp_path,
        "  - name: k\n    keywords: [Gripen, PLAN]\n    severity: high\n    exclude: [Erdgoan]\n",
    )
    first = len(ENTITIES.splitlines()) + 3
    assert got == [
        f"{first}: warning: rule 'k': term 'PLAN' is not an entity; did you mean 'PLA'?",
        f"{first + 2}: warning: rule 'k': term 'Erdgoan' is not an entity; did you mean 'Erdoğan'?",
    ]


def test_warnings_never_stop_the_rules_from_loading(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(ENTITIES + "rules:\n  - {name: r, query: PLAN}\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="monitor.rules.load"):
        (rule,) = load_rules([str(path)])  # no list given: logged, once
    assert rule.name == "r"
    assert [r.getMessage() for r in caplog.records] == [
        f"rule_warning problem={path}:12: warning: rule 'r': term 'PLAN' is not an entity;"
        " did you mean 'PLA'?"
    ]
