"""Story fingerprints against tests/fixtures/stories/clusters.yaml: every pair within
a cluster is one story, every pair across clusters is not; and the rules that get
there (normalisation, name-like tokens, order, the lead paragraph)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from rapidfuzz import fuzz

from monitor.dedup.fingerprint import (
    ORDER_FLOOR,
    TITLE_THRESHOLD,
    normalise_text,
    normalise_title,
    same_story,
    signature,
    similarity,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "stories" / "clusters.yaml"
DATA = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
CLUSTERS: list[list[str]] = DATA["clusters"]
WITHIN = [(a, b) for cluster in CLUSTERS for a, b in itertools.combinations(cluster, 2)]
ACROSS = [(a, b) for one, other in itertools.combinations(CLUSTERS, 2) for a in one for b in other]


def test_the_fixture_has_copies_and_hard_distinct_pairs() -> None:
    titles = [t for cluster in CLUSTERS for t in cluster]
    assert len(titles) == len(set(titles)), "a title in two clusters"
    assert len(WITHIN) >= 60 and len(ACROSS) >= 1000
    assert ("Iran strikes Israel",) in {tuple(c) for c in CLUSTERS}
    hard = [(a, b) for a, b in ACROSS if _token_sort(a, b) >= TITLE_THRESHOLD]
    assert len(hard) >= 7  # pairs token_sort_ratio alone would merge


def _token_sort(a: str, b: str) -> float:
    return float(fuzz.token_sort_ratio(normalise_title(a), normalise_title(b)))


def test_every_pair_within_a_cluster_is_one_story() -> None:
    missed = [(a, b, similarity(signature(a), signature(b))) for a, b in WITHIN
              if not same_story(signature(a), signature(b))]  # fmt: skip
    assert not missed


def test_no_pair_across_clusters_is_one_story() -> None:
    merged = [(a, b, similarity(signature(a), signature(b))) for a, b in ACROSS
              if same_story(signature(a), signature(b))]  # fmt: skip
    assert not merged


def test_sameness_is_symmetric() -> None:
    for a, b in WITHIN + ACROSS[::7]:
        assert similarity(signature(a), signature(b)) == similarity(signature(b), signature(a))


def test_the_same_lead_under_another_title_is_one_story() -> None:
    (lead,) = DATA["leads"]
    a = signature(lead["title_a"], lead["summary_a"])
    b = signature(lead["title_b"], lead["summary_b"])
    assert not same_story(signature(lead["title_a"]), signature(lead["title_b"]))
    assert same_story(a, b) and similarity(a, b) == 100.0
    other = signature(lead["title_b"], "Moscow (Reuters) - " + " ".join(["Russia said"] * 10))
    assert not same_story(a, other)


def test_a_matching_lead_joins_a_corrected_place() -> None:
    lead = ("WASHINGTON (Reuters) - A U.S. Air Force F-35 fighter jet crashed during a "
            "training flight on Tuesday, the pilot ejected safely, officials said.")  # fmt: skip
    first = signature("F-35 crashes in Utah", lead)
    fixed = signature("CORRECTED-F-35 crashes in Nevada", lead)
    assert not same_story(signature("F-35 crashes in Utah"), signature("F-35 crashes in Nevada"))
    assert same_story(first, fixed)


@pytest.mark.parametrize(
    ("title", "normalised"),
    [
        ("UPDATE 2, WRAPUP 1-Turkey receives S-400", "turkey receives s400"),
        (
            "RPT-UPDATE 1-Turkey receives first S-400 parts - Reuters",
            "turkey receives first s400 parts",
        ),
        ("UPDATE 1, EXCLUSIVE-Turkey receives S-400", "turkey receives s400"),
        ("Live: Erdoğan speaks on S-400", "erdogan speaks on s400"),
        ("ERDOĞAN SPEAKS", "erdogan speaks"),
        ("Erdog\u0306an speaks", "erdogan speaks"),  # a separate combining breve
        ("U.S. weighs Turkey’s S-400 purchase", "us weighs turkey s400 purchase"),
        ("Watch-list grows", "watchlist grows"),  # no prefix without a wire separator
        ("Urgent, Erdogan: Turkey to buy S-400", "urgent erdogan turkey to buy s400"),
    ],
)
def test_titles_normalise(title: str, normalised: str) -> None:
    assert normalise_title(title) == normalised


@pytest.mark.parametrize(
    ("title", "names"),
    [
        ("Russia delivers S-400 to Turkey", {"s400", "turkey"}),
        ("Trump says Obama's Patriot refusal forced Erdoğan into deal",
         {"obama", "patriot", "erdogan"}),
        ("Russia Delivers S-400 to Turkey", {"s400"}),  # Title Case: only digits
        ("RUSSIA DELIVERS S-400 TO TURKEY", {"s400"}),  # ALL CAPS: only digits
        ("US warns Turkey over 2019 drilling", {"turkey", "2019"}),
        ("Putin, Erdogan in Sochi", set()),  # all capitalised: reads as Title Case
    ],
)  # fmt: skip
def test_name_like_tokens(title: str, names: set[str]) -> None:
    assert signature(title).names == names


def test_the_summary_names_words_whose_case_says_nothing() -> None:
    a = signature(
        "Turkey sends warships to eastern Mediterranean",
        "ANKARA (Reuters) - The navy said on Monday that Turkey would protect its rights.",
    )
    b = signature(
        "Greece sends warships to eastern Mediterranean",
        "ATHENS (Reuters) - Officials said on Monday that Greece would respond.",
    )
    assert {"turkey", "mediterranean"} <= a.names and "greece" in b.names
    assert "monday" not in a.names  # only title words are names of the title
    assert not same_story(a, b)
    caps = signature("RUSSIA DELIVERS S-400 TO INDIA", "Moscow said it delivered it to India.")
    assert "india" in caps.names
    assert not same_story(caps, signature("Russia delivers S-400 to Turkey"))


def test_one_sided_names_and_case_changes_are_copies() -> None:
    title = "Erdogan says S-400 deliveries will be complete by April"
    assert same_story(signature(title), signature(title.replace("April", "April 2020")))
    assert same_story(signature(title), signature(title.upper()))
    assert same_story(signature(title), signature(title.title()))
    # a word repeated in place of another (as bench/stories.py makes copies)
    title = "Turkey and F-35 makers weigh S-400 talks with NATO allies"
    words = title.split(" ")
    words[1] = words[4]
    assert same_story(signature(" ".join(words)), signature(title))


def test_reversed_roles_are_different_stories() -> None:
    assert not same_story(signature("Iran strikes Israel"), signature("Israel strikes Iran"))
    caps = signature("PUTIN MEETS ERDOGAN IN SOCHI"), signature("ERDOGAN MEETS PUTIN IN SOCHI")
    assert not caps[0].names and not caps[1].names  # no case: the order-aware floor decides
    assert fuzz.ratio(caps[0].title, caps[1].title) < ORDER_FLOOR
    assert not same_story(*caps)


def test_a_moved_clause_is_no_reversal() -> None:
    a = signature("Turkey says it will not back down on S-400 despite US pressure")
    b = signature("Despite US pressure, Turkey says it will not back down on S-400")
    assert same_story(a, b)


ASCII_TEXTS = [
    "Russia's S-400 deal: 'not negotiable', Erdogan says (AP)",
    'e-mail -dash- x--y a_-b a\'-b _under_ `tick` "quoted"\t\x1ccontrol',
    "U.S.-Turkey talks - on F-35s; 2019's 10,000-strong force ...",
]


@pytest.mark.parametrize("text", ASCII_TEXTS)
def test_ascii_text_normalises_as_the_unicode_path_does(text: str) -> None:
    """ASCII text takes a bytes path; the regex path (any non-ASCII text) must agree:
    a trailing " é" sends the same text down it and adds only the word "e"."""
    assert normalise_text(text + " é") == f"{normalise_text(text)} e".strip()
    assert normalise_title(text + " é") == f"{normalise_title(text)} e".strip()
    assert normalise_text(text) == normalise_text(text).strip()
    assert "  " not in normalise_text(text)
