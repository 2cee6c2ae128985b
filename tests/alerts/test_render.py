"""The shared plain-text pieces: severity colour and emoji, times in a zone with
UTC beside, the status and outlets lines, members and changes, each bounded."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from lifecycle import created, update

from monitor.alerts import render
from monitor.model import StoryMember

NOON = datetime(2019, 7, 12, 12, 0, tzinfo=UTC)


def test_times_show_the_zone_with_utc_beside() -> None:
    assert render.when(NOON) == "2019-07-12 12:00 UTC"
    assert render.when(NOON, ZoneInfo("UTC")) == "2019-07-12 12:00 UTC"
    assert render.when(NOON, ZoneInfo("Europe/Moscow")) == "2019-07-12 15:00 MSK (12:00 UTC)"
    assert render.when(NOON, ZoneInfo("America/New_York")) == "2019-07-12 08:00 EDT (12:00 UTC)"
    winter = datetime(2019, 1, 12, 12, 0, tzinfo=UTC)
    assert render.when(winter, ZoneInfo("America/New_York")) == "2019-01-12 07:00 EST (12:00 UTC)"
    # the local date is another day: the UTC date is repeated
    late = datetime(2019, 7, 12, 20, 0, tzinfo=UTC)
    assert (
        render.when(late, ZoneInfo("Australia/Sydney"))
        == "2019-07-13 06:00 AEST (2019-07-12 20:00 UTC)"
    )
    assert render.when(None, ZoneInfo("Europe/Moscow")) == "undated"


def test_severity_colours_and_emoji() -> None:
    assert [render.emoji(s) for s in ("low", "medium", "high", "critical")] == [
        "⚪", "🟡", "🟠", "🔴",
    ]  # fmt: skip
    assert len({render.colour(s) for s in ("low", "medium", "high", "critical")}) == 4
    assert render.colour("bogus") == render.colour("low")


def test_status_and_outlets_lines_follow_the_story() -> None:
    first = created("x")
    assert render.status(first) == "1 outlet"
    grown = update(first, 4, mode="edit")
    assert render.status(grown, ZoneInfo("Europe/Moscow")) == (
        "4 outlets · latest: Daily Sabah, 2019-07-12 09:26 MSK (06:26 UTC)"
    )
    assert render.outlets(grown) == "Outlets: Wire, AP, TASS, Daily Sabah"
    many = replace(grown, outlets=tuple(f"Outlet {i}" for i in range(25)))
    assert render.outlets(many).endswith("Outlet 9 and 15 more")
    # an alert of before the lifecycle (no outlets): its source and duplicates
    old = replace(first, outlets=(), duplicates=("AP", "TASS"))
    assert (render.outlets(old), render.status(old)) == ("Outlets: Wire, AP, TASS", "3 outlets")


def test_hostile_members_and_changes_are_one_line_and_bounded() -> None:
    hostile = StoryMember("Evil\r\nWire\x1b[2J", "t\u202e" + "x" * 1000, None, None, "copy")
    alert = replace(created("x"), members=(hostile,) * 30,
                    changes=("new\nrule\x00: a",) + ("more",) * 15)  # fmt: skip
    lines = render.members(alert)
    assert len(lines) == render.MEMBERS_MAX + 1 and lines[-1] == "and 10 more"
    assert all("\n" not in line and "\x1b" not in line and "\u202e" not in line for line in lines)
    assert lines[0].startswith("Evil Wire [2J · undated · copy · t")
    assert len(lines[0]) < 300 and lines[0].endswith(render.TRUNCATED)
    changes = render.changes(alert)
    assert changes[0] == "new rule : a" and changes[-1] == "and 6 more"
    assert len(changes) == render.CHANGES_MAX + 1


def test_the_text_part_of_a_followup_says_what_is_new_first() -> None:
    later = update(created("x"), 3, mode="followup", changes=("new rule: sanctions",))
    body = render.text([later], ZoneInfo("Europe/Moscow")).splitlines()
    assert body[0] == "Update: [HIGH] Russia to share S-400 technology with Turkey"
    assert body[2] == "  new: new rule: sanctions"
    assert "Members:" in body and any(
        line.startswith("  TASS · 2019-07-12 09:19 MSK") for line in body
    )
