"""The vetoes: a swapped place, number, actor or role keeps two items apart; a variant
spelling, a reordered list or a mutual act does not."""

from __future__ import annotations

from monitor.dedup.features import Features, features
from monitor.dedup.vetoes import name, number, role, veto
from monitor.model import Evidence, Item, Match, RuleHit


def flat(term: str) -> float:
    return 1.0


def feats(title: str, summary: str = "", entities: tuple[str, ...] = ()) -> Features:
    """Features of an item whose rule evidence names ``entities`` where the title has them."""
    evidence = []
    for entity in entities:
        start = title.find(entity)
        if start >= 0:
            evidence.append(Evidence(entity, "title", entity, start, start + len(entity)))
    item = Item(id=title, feed_url="https://f.example/rss", feed="f", source="Wire",
                title=title, summary=summary)  # fmt: skip
    return features(Match(item, (RuleHit("r", "high", (), tuple(evidence)),)))


def test_a_swapped_place_is_another_story() -> None:
    a = feats("Russia delivers second S-400 battery to Turkey, ministry says")
    b = feats("Russia delivers second S-400 battery to India, officials say")
    assert name(a, b, flat) == "place: turkey / india"
    ryazan = feats("Ukrainian drones hit Russia's Ryazan oil refinery, governor says")
    saratov = feats("Ukrainian drones hit Russia's Saratov oil refinery, governor says")
    assert veto(ryazan, saratov, flat) == "name: ryaza / sarat"


def test_a_swapped_actor_is_another_story() -> None:
    putin = feats("President Erdogan, Russia's Putin discuss peace talks in phone call",
                  entities=("Erdogan", "Putin"))  # fmt: skip
    zelensky = feats("President Erdogan, Ukraine's Zelensky discuss peace talks in phone call",
                     entities=("Erdogan", "Zelensky"))  # fmt: skip
    assert veto(putin, zelensky, flat) is not None


def test_variants_are_no_substitution() -> None:
    pairs = [
        ("U.S. warns China over Taiwan drills", "United States warns Chinese over Taiwan drills"),
        ("Protest outside Downing St over strikes", "Protest outside Downing Street over strikes"),
        ("Mexico sends six thousand troops north", "Mexican army sends 6,000 troops north"),
        ("Blast in NYC subway injures 5", "Blast in New York subway injures five"),
    ]
    for a, b in pairs:
        assert veto(feats(a), feats(b), flat) is None, (a, b)


def test_an_attribution_is_not_what_happened() -> None:
    a = feats("North Korea fires short-range ballistic missiles, South Korea says")
    b = feats("North Korea fires short-range ballistic missiles, Japan says")
    assert veto(a, b, flat) is None


def test_another_number_is_another_story() -> None:
    a = feats("Russia launches record 273 drones at Ukraine, Kyiv says")
    b = feats("Russia launches 110 drones at Ukraine overnight, air force says")
    assert number(a, b) == "number: 273 / 110"
    # the same number once rounded, or in words, is the same story
    assert number(feats("EU sanctions 189 vessels"), feats("EU targets nearly 200 vessels")) is None
    assert number(feats("Strike kills six"), feats("Strike kills 6 in Kharkiv")) is None
    # amounts in two currencies do not clash
    assert number(feats("India signs $7.4 billion Rafale deal"),
                  feats("India signs Rs 63,000 crore Rafale deal")) is None  # fmt: skip


def test_rounding_within_the_tolerance_is_the_same_number() -> None:
    assert number(feats("EU sanctions target 189 vessels"), feats("EU targets 195 vessels")) is None


def test_reversed_roles_are_another_story() -> None:
    a = feats("Azerbaijan accuses Armenia of firing on its border positions")
    b = feats("Armenia accuses Azerbaijan of firing on its border positions")
    assert role(a, b) == "role: azerbaijan / armenia"
    strikes = feats("Israel strikes Iran's air defences")
    fires = feats("Iran fires missiles at Israel")
    assert role(strikes, fires) == "role: israel / iran"


def test_a_reordered_list_a_converse_or_a_mutual_act_is_no_reversal() -> None:
    lists = [
        ("Russia, China and Iran begin naval drills", "Iran, China, Russia hold naval drills"),
        ("S. Korea, US, Japan kick off exercise", "Japan, U.S. and South Korea start exercise"),
    ]
    for a, b in lists:
        assert role(feats(a), feats(b)) is None, (a, b)
    assert role(feats("Russia delivers S-400 parts to Turkey"),
                feats("Turkey takes delivery of Russian S-400 parts")) is None  # fmt: skip
    assert role(feats("UK seals Typhoon sale to Turkey"),
                feats("Turkey seals Typhoon purchase with UK")) is None  # fmt: skip


def test_a_speaker_is_not_the_actor() -> None:
    a = feats("Chinese coast guard fires water cannon at Philippine vessel")
    b = feats("Philippines says Chinese coastguard fired water cannon at its vessel")
    assert role(a, b) is None


def test_templated_headlines_with_other_names_stay_apart_in_a_full_window() -> None:
    """Rarity must not weaken the name swap: in a window of many look-alike headlines the
    template's words are common and the names rare, and they are still other stories."""
    import time

    from monitor.dedup.stories import StoryBook
    from monitor.model import Evidence, Item, Match, RuleHit
    from monitor.store import Store

    hit = (RuleHit("s400", "high", (), (Evidence("S-400", "title", "S-400", 0, 5),)),)
    syllables = ("ka", "lo", "mir", "tes", "van", "dor", "phi", "nu", "zel", "bra", "qui", "sen")
    names = ["".join(syllables[(n // 12**k) % 12] for k in range(3)).capitalize()
             for n in range(1, 60)]  # fmt: skip
    now = time.time()
    with Store(":memory:") as store:
        book = StoryBook(store)
        new = []
        for n, (buyer, plant) in enumerate(zip(names[:25], names[30:55], strict=True)):
            title = f"{buyer} takes delivery of S-400 battery from {plant} plant"
            item = Item(id=f"i{n}", feed_url="f", feed="f", source=f"Outlet {n % 3}",
                        title=title, summary=f"{title}. More follows.",
                        link=f"https://news.example/{n}")  # fmt: skip
            new.append(book.observe(Match(item, hit), now).new)
    assert all(new), [n for n, fresh in enumerate(new) if not fresh]


def test_a_country_each_item_lacks_is_another_story_however_alike_the_titles() -> None:
    """'... share S-400 technology with Turkey' and '... deliver S-400 systems to India'
    share little wording, but each names a country the other never mentions."""
    import time

    from monitor.dedup.stories import StoryBook
    from monitor.model import Evidence, Item, Match, RuleHit
    from monitor.store import Store

    hit = (RuleHit("s400", "high", (), (Evidence("S-400", "title", "S-400", 0, 5),)),)
    india = (
        "Russia to deliver S-400 systems to India next year",
        "Russia will deliver the remaining S-400 regiments to India next year, officials said.",
    )
    turkey = (
        "UPDATE 1-Russia to share S-400 technology with Turkey - Reuters",
        "Russia is ready to share some of the technology behind its S-400 air defence"
        " system with Turkey as part of a deal for a second regiment, the exporter said.",
    )
    with Store(":memory:") as store:
        book = StoryBook(store)
        seen = [book.observe(Match(Item(id=f"i{n}", feed_url="f", feed="f", source="Post",
                                        title=t, summary=s, link=f"https://p.example/{n}"), hit),
                             time.time())
                for n, (t, s) in enumerate((india, turkey))]  # fmt: skip
    assert seen[1].new and seen[1].near_miss is not None
    assert seen[1].near_miss.veto.startswith("place:")
