"""Where typos are looked for (docs/rules.md, "Where typos are looked for")."""

from __future__ import annotations

import pytest

from monitor.rules.fuzzy import FuzzyIndex

INDEX_WORDS = {"erdogan": 85.0, "interoperability": 85.0, "sanctions": 85.0}


@pytest.mark.parametrize(
    ("word", "fix"),
    [
        ("erdogn", "erdogan"),  # a letter dropped
        ("erdgoan", "erdogan"),  # two swapped
        ("rrdogan", "erdogan"),  # the first letter wrong
        ("erdogam", "erdogan"),  # the last letter wrong
        ("sanctoins", "sanctions"),
        ("intreoperabilitu", "interoperability"),  # two typos, one end untouched
        ("iqteroperabilitx", None),  # typos at both ends: not looked for
        ("sanctity", None),  # too far (75)
        ("section", None),
    ],
)
def test_typos_found_unless_they_hit_both_ends(word: str, fix: str | None) -> None:
    index = FuzzyIndex(INDEX_WORDS, INDEX_WORDS)
    found = index.fixes([word]).get(word)
    assert (found[0] if found else None) == fix
