"""The routing tree, grouping and mute windows, held to Alertmanager's semantics
(``dispatch/route.go``), and the ``route:`` section's errors through the real
config loader."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import alert

from monitor.alerts.route import Routed, Router, _window_end, due_time, group_key, unmuted
from monitor.alerts.sinks import schemas
from monitor.config import RouteConfig, TimeInterval, load_config
from monitor.config.routes import matcher
from monitor.errors import ConfigError
from monitor.model import RuleHit


def hit(rule: str, severity: str = "medium", **labels: str) -> RuleHit:
    return RuleHit(rule, severity, tuple(labels.items()))


def node(receiver: str | None = None, *matchers: str, **kw: object) -> RouteConfig:
    return RouteConfig(receiver=receiver, matchers=tuple(matcher(m) for m in matchers), **kw)  # type: ignore[arg-type]


def receivers(router: Router, *hits: RuleHit) -> list[str]:
    return [r.receiver for r in router.route(hits)]


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# --- the tree -----------------------------------------------------------------------


TREE = node(
    "root",
    routes=(
        node(
            "defence", "desk=defence",
            routes=(node("defence-critical", "severity=critical"),),
        ),
        node("defence-late", "desk=defence"),  # never reached: its sibling matched first
        node("risk", "desk=risk", continue_=True),
        node("risk-archive", "desk=risk"),
        node("sanctions", "rule=sanctions"),  # after risk-archive matched: not reached
    ),
)  # fmt: skip
ROUTER = Router(TREE, ["root", "defence", "defence-critical", "defence-late", "risk",
                       "risk-archive", "sanctions"])  # fmt: skip


def test_depth_first_and_the_first_matching_child_wins() -> None:
    assert receivers(ROUTER, hit("s400", "critical", desk="defence")) == ["defence-critical"]
    # a node none of whose children match takes the alert itself
    assert receivers(ROUTER, hit("s400", "high", desk="defence")) == ["defence"]


def test_continue_lets_later_siblings_match_too() -> None:
    # risk says continue: risk-archive matches as well; it does not: sanctions is not tried
    assert receivers(ROUTER, hit("sanctions", desk="risk")) == ["risk", "risk-archive"]


def test_the_root_takes_what_no_child_matches() -> None:
    (routed,) = ROUTER.route([hit("weather", "low", desk="sport")])
    assert routed == Routed("root", "0")


def test_children_inherit_options_and_may_override_them() -> None:
    nights = TimeInterval("nights", ((22 * 60, 7 * 60),))
    tree = node(
        "root", group_wait=30.0, group_interval=300.0, group_by=("story",),
        mute_time_intervals=("nights",),
        routes=(
            node(None, "desk=defence",
                 routes=(node("slack", "severity=critical", group_wait=0.0,
                              mute_time_intervals=()),)),
        ),
    )  # fmt: skip
    router = Router(tree, ["root", "slack"], [nights])
    (inherited,) = router.route([hit("s400", "high", desk="defence")])
    assert inherited == Routed("root", "0.0", 30.0, 300.0, (nights,), ("story",))
    (overridden,) = router.route([hit("s400", "critical", desk="defence")])
    assert overridden == Routed("slack", "0.0.0", 0.0, 300.0, (), ("story",))


@pytest.mark.parametrize(
    ("text", "labels", "matches"),
    [
        ("severity=high", {"severity": "high"}, True),
        ("severity=high", {"severity": "highest"}, False),
        ('severity=~"high|critical"', {"severity": "critical"}, True),
        ('severity=~"high|critical"', {"severity": "highest"}, False),  # anchored
        ('severity=~"igh"', {"severity": "high"}, False),  # anchored at the start too
        ("severity!=high", {"severity": "low"}, True),
        ("severity!=high", {"severity": "high"}, False),
        ('rule!~"sanc.*"', {"rule": "sanctions"}, False),
        ('rule!~"sanc.*"', {"rule": "s400"}, True),
        ("desk=defence", {}, False),  # a missing label is the empty string
        ("desk!=defence", {}, True),
        ('desk=~".*"', {}, True),
        ("desk=defence", {"desk": "defence"}, True),  # labels from the rule's labels
    ],
)
def test_matchers(text: str, labels: dict[str, str], matches: bool) -> None:
    router = Router(node("root", routes=(node("hit", text),)), ["root", "hit"])
    rule = labels.pop("rule", "some-rule")
    severity = labels.pop("severity", "medium")
    assert receivers(router, hit(rule, severity, **labels)) == (["hit"] if matches else ["root"])


def test_a_story_goes_once_to_each_receiver_its_hits_reach() -> None:
    got = receivers(
        ROUTER,
        hit("s400", "high", desk="defence"),
        hit("f35", "high", desk="defence"),  # defence again: not twice
        hit("sanctions", "medium", desk="risk"),
    )
    assert sorted(got) == ["defence", "risk", "risk-archive"]


def test_the_most_severe_hit_decides_the_route_whatever_the_order_of_hits() -> None:
    always = TimeInterval("always")
    tree = node(
        "slack",
        routes=(
            node("slack", "severity=critical"),
            node("slack", mute_time_intervals=("always",), group_wait=600.0),
        ),
    )
    router = Router(tree, ["slack"], [always])
    medium, critical = hit("sanctions", "medium", desk="risk"), hit("air", "critical")
    for hits in ([medium, critical], [critical, medium]):
        (routed,) = router.route(hits)
        assert routed == Routed("slack", "0.0")  # the critical route: not muted, no wait
        assert due_time(routed, 1000.0, None, None) == 1000.0
    # equal severities keep the rules' order: the first hit's route decides
    (first,) = router.route([hit("a", "critical", desk="x"), hit("b", "critical")])
    assert first.route == "0.0"


def test_without_a_route_every_receiver_gets_every_alert() -> None:
    router = Router(None, ["desk", "slack"])
    assert receivers(router, hit("s400", "low")) == ["desk", "slack"]


# --- grouping ------------------------------------------------------------------------


def test_group_key() -> None:
    a1, a2 = alert("desk", n=1), alert("desk", n=2)
    at_once = Routed("desk", "0.1")
    assert group_key(at_once, a1) == f"alert:{a1.alert_id}"
    one_group = Routed("desk", "0.1", group_wait=30.0)
    assert group_key(one_group, a1) == group_key(one_group, a2) == "group:desk:0.1"
    by_story = Routed("desk", "0.1", group_wait=30.0, group_by=("story",))
    assert group_key(by_story, a1) != group_key(by_story, a2)
    assert group_key(by_story, a1) == "group:desk:0.1:story=story1"
    by_severity = Routed("desk", "0.1", group_interval=60.0, group_by=("severity", "rule"))
    assert group_key(by_severity, a1) == "group:desk:0.1:severity=high:rule=s400"


def test_due_time_waits_joins_and_spaces_digests() -> None:
    r = Routed("desk", "0", group_wait=30.0, group_interval=300.0)
    assert due_time(r, 1000.0, None, None) == 1030.0  # a new group waits group_wait
    assert due_time(r, 1000.0, 1010.0, None) == 1010.0  # joins the pending digest
    assert due_time(r, 1000.0, 1010.0, 900.0) == 1010.0  # ... even after a flush
    assert due_time(r, 1000.0, None, 900.0) == 1200.0  # group_interval after the last digest
    assert due_time(r, 1000.0, None, 500.0) == 1000.0  # the interval has passed: at once
    no_interval = Routed("desk", "0", group_wait=30.0)
    assert due_time(no_interval, 1000.0, None, 990.0) == 1030.0


# --- mute windows --------------------------------------------------------------------

NIGHTS = TimeInterval("nights", ((22 * 60, 7 * 60),))
WEEKNIGHTS = TimeInterval("weeknights", ((22 * 60, 7 * 60),), (0, 1, 2, 3, 4))


@pytest.mark.parametrize(
    ("interval", "at", "until"),
    [
        (NIGHTS, "2024-01-10 23:30", "2024-01-11 07:00"),  # across midnight
        (NIGHTS, "2024-01-11 03:00", "2024-01-11 07:00"),  # after midnight
        (NIGHTS, "2024-01-10 22:00", "2024-01-11 07:00"),  # the start is inside
        (NIGHTS, "2024-01-11 07:00", None),  # the end is not
        (NIGHTS, "2024-01-11 12:00", None),
        # a window belongs to the day it starts: Friday night runs into Saturday ...
        (WEEKNIGHTS, "2024-01-12 23:00", "2024-01-13 07:00"),
        (WEEKNIGHTS, "2024-01-13 03:00", "2024-01-13 07:00"),
        (WEEKNIGHTS, "2024-01-13 23:00", None),  # ... Saturday night is not muted
        (WEEKNIGHTS, "2024-01-08 03:00", None),  # Monday 03:00 is Sunday's night
        (WEEKNIGHTS, "2024-01-09 03:00", "2024-01-09 07:00"),  # Tuesday 03:00 is Monday's
    ],
)
def test_window_end(interval: TimeInterval, at: str, until: str | None) -> None:
    assert _window_end(interval, ts(at)) == (ts(until) if until else None)
    assert unmuted([interval], ts(at)) == ts(until or at)


def test_a_window_in_a_time_zone() -> None:
    istanbul = TimeInterval("nights", ((22 * 60, 7 * 60),), (), "Europe/Istanbul")  # UTC+3
    assert unmuted([istanbul], ts("2024-01-10 20:00")) == ts("2024-01-11 04:00")
    # 05:00 UTC lies in a UTC night, but it is 08:00 in Istanbul: not muted
    assert unmuted([istanbul], ts("2024-01-11 05:00")) == ts("2024-01-11 05:00")


def test_adjacent_windows_chain() -> None:
    evening = TimeInterval("evening", ((20 * 60, 22 * 60),))
    late = TimeInterval("late", ((22 * 60, 24 * 60), (0, 6 * 60)))
    assert unmuted([evening, late], ts("2024-01-10 21:00")) == ts("2024-01-11 06:00")
    weekend = TimeInterval("weekend", (), (5, 6))  # all day, Saturday and Sunday
    assert unmuted([weekend], ts("2024-01-13 10:00")) == ts("2024-01-15 00:00")


def test_due_time_is_pushed_past_a_mute_window() -> None:
    r = Routed("desk", "0", group_wait=60.0, mute=(NIGHTS,))
    assert due_time(r, ts("2024-01-10 21:59:30"), None, None) == ts("2024-01-11 07:00")


# --- the route: section, through the config loader ----------------------------------------

RECEIVERS = """receivers:
  - {name: desk, kind: file, path: alerts.jsonl}
  - {name: slack, kind: slack, url: "http://127.0.0.1:9/hook"}
time_intervals:
  - {name: nights, times: ["22:00-07:00"], weekdays: ["mon-fri"], location: Europe/Istanbul}
"""


def test_a_route_tree_from_config_routes_as_written(tmp_path: Path) -> None:
    path = tmp_path / "newsmon.yaml"
    path.write_text(RECEIVERS + """route:
  receiver: desk
  group_wait: 30s
  group_by: [story]
  mute_time_intervals: [nights]
  routes:
    - matchers: ['severity=~"high|critical"', "desk=defence"]
      receiver: slack
      mute_time_intervals: []
""", encoding="utf-8")  # fmt: skip
    settings = load_config(path, receivers=schemas())
    router = Router(settings.route, [r.name for r in settings.receivers], settings.time_intervals)
    (slack,) = router.route([hit("s400", "high", desk="defence")])
    assert (slack.receiver, slack.group_wait, slack.group_by, slack.mute) == (
        "slack", 30.0, ("story",), ())  # fmt: skip
    (desk,) = router.route([hit("s400", "high", desk="risk")])
    assert desk.receiver == "desk" and [i.name for i in desk.mute] == ["nights"]
    assert desk.mute[0].location == "Europe/Istanbul" and desk.mute[0].weekdays == (0, 1, 2, 3, 4)


def test_route_errors_are_reported_all_at_once_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "newsmon.yaml"
    path.write_text(RECEIVERS + """route:
  group_wait: 5s
  routes:
    - receiver: slak
    - matchers: ["severity high"]
      receiver: desk
    - matchers: ['rule=~"(unclosed"']
      receiver: desk
    - receiver: desk
      mute_time_intervals: [nigths]
""", encoding="utf-8")  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_config(path, receivers=schemas())
    got = [str(p) for p in caught.value.problems]
    assert got[:3] == [
        f"{path}:6: route: the root route needs a 'receiver'",
        f"{path}:9: route.routes[0].receiver: no receiver named 'slak' (did you mean 'slack'?)",
        f"{path}:10: route.routes[1].matchers: expected a matcher such as "
        """'severity=~"high|critical"', got 'severity high'""",
    ]
    assert got[3].startswith(f"{path}:12: route.routes[2].matchers: bad regex '(unclosed'")
    assert got[4] == (
        f"{path}:15: route.routes[3].mute_time_intervals: "
        "no time interval named 'nigths' (did you mean 'nights'?)"
    )
    assert len(got) == 5
