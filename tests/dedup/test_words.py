"""The event tier's reading of text: one term per name or number, whatever its spelling."""

from __future__ import annotations

import pytest

from monitor.dedup.words import stem, terms


def texts(text: str, language: str = "en") -> list[str]:
    return [t.text for t in terms(text, language)]


def numbers(text: str, language: str = "en") -> list[str]:
    return [t.text for t in terms(text, language) if t.kind == "number"]


@pytest.mark.parametrize(
    ("forms", "language"),
    [
        (["6 killed", "six killed", "Six killed"], "en"),
        (["150k barrels", "150,000 barrels", "150 thousand barrels", "150.000 barrels"], "en"),
        (["$1.5bn", "$1.5 billion", "$1.5 bln", "$1.5B", "1.5 billion dollars"], "en"),
        (["411 тыс. баррелей", "411 тысяч баррелей"], "ru"),
        (["1,5 Milliarden Dollar"], "de"),
        (["fünf Prozent"], "de"),
        (["5%", "5 percent", "5 %", "5 per cent"], "en"),
        (["17th package", "17-й пакет"], "en"),
        (["the second battery", "the 2nd battery"], "en"),
    ],
)  # fmt: skip
def test_number_forms_are_one_value(forms: list[str], language: str) -> None:
    values = {tuple(v.rstrip("usd") for v in numbers(f, language)) for f in forms}
    assert len(values) == 1, values


def test_an_amount_keeps_its_currency_and_a_dateline_day_is_no_number() -> None:
    assert numbers("India signs Rs 63,000 crore deal") == ["630000000000inr"]
    assert numbers("UAE approves Dh5.1 billion buy") == ["5100000000aed"]
    assert numbers("ANKARA, May 6 (Reuters) - 12 soldiers") == ["12"]
    assert numbers("МОСКВА, 21 мая. 13 тысяч военных", "ru") == ["13000"]
    assert numbers("agree to stop firing from 5pm and 17:00") == []
    assert numbers("S-400 and F-35A and Strait Thunder-2025B") == []


def test_a_day_is_a_date_only_beside_a_month_in_its_own_sentence() -> None:
    assert numbers("Talks ended in May. 6 soldiers were killed") == ["6"]
    assert numbers("Talks ended on May 6. Soldiers were killed") == []
    assert numbers("Talks began at 10:30 am on 6 May; 12 soldiers died") == ["12"]


@pytest.mark.parametrize(
    ("forms", "key"),
    [
        (["US", "U.S.", "USA", "United States", "American"], "usa"),
        (["UK", "U.K.", "Britain", "British", "United Kingdom"], "uk"),
        (["UN", "U.N.", "United Nations"], "un"),
        (["EU", "E.U.", "European Union"], "eu"),
        (["NYC", "New York City", "New York"], "nyc"),
        (["China", "Chinese"], "china"),
        (["Mexico", "Mexican"], "mexico"),
        (["Iran", "Iranian"], "iran"),
        (["Turkey", "Turkish", "Türkiye"], "turkey"),
        (["N. Korea", "North Korea", "North Korean", "DPRK"], "north korea"),
    ],
)  # fmt: skip
def test_abbreviations_and_demonyms_are_one_name(forms: list[str], key: str) -> None:
    for form in forms:
        assert texts(f"Officials say {form} troops moved") == ["offic", key, "troop", "mov"], form


def test_a_common_word_is_no_abbreviation_unless_in_capitals() -> None:
    assert "usa" not in texts("He told us the un-named official left")
    assert "usa" in texts("Iran warns US over sanctions")


def test_street_and_st_are_one_word() -> None:
    assert texts("Protest at Downing St") == texts("Protest at Downing Street")


def test_other_scripts_are_transliterated_and_stemmed_alike() -> None:
    assert stem("kharkovu") == stem("kharkiv")  # Харкову (uk) / Kharkiv
    assert texts("Рязань", "ru") == texts("Ryazan")
    assert texts("С-400") == texts("S-400") == ["s400"]
    assert texts("l'AIEA", "fr") == ["aiea"]
    assert texts("S-400'lerin", "tr") == ["s400"]


def test_english_inflections_meet() -> None:
    assert {stem(w) for w in ("fires", "fire", "fired")} == {"fir"}
    assert {stem(w) for w in ("seize", "seized", "seizes")} == {"seiz"}
    assert {stem(w) for w in ("launches", "launched", "launching")} == {"launc"}


def test_capitals_mark_names_where_case_says_something() -> None:
    found = terms("Drones hit Ryazan refinery. Officials said", "en")
    capital = {t.text for t in found if t.capital}
    assert capital == {"ryaza"}  # not "Drones" (first) nor "Officials" (a sentence's start)
    assert not any(t.capital for t in terms("Drones Hit Ryazan Refinery", "en", False))
