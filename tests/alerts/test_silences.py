"""Silences: what they match, and that what they mute is recorded, not sent."""

from __future__ import annotations

import json
import time
from pathlib import Path

from helpers import dispatcher, settle
from support.config import write_config
from support.daemon import newsmon
from support.records import alert, story
from test_lifecycle import FIRST, Capture, member

from monitor.alerts.route import Routed
from monitor.alerts.silence import Silence, labels, matches, new_id
from monitor.alerts.story import alert_for
from monitor.config import Matcher
from monitor.config.routes import matcher


def silence(*texts: str, starts: float = 0.0, ends: float = 2e9) -> Silence:
    return Silence(new_id(), tuple(matcher(t) for t in texts), starts, ends, "ana", "noisy", 0.0)


def test_an_alert_has_its_story_rules_entities_severity_receiver_and_rule_labels() -> None:
    found = labels(alert("slack"))
    assert found["story"] == {"story1"} and found["rule"] == {"s400"}
    assert found["entity"] == {"S-400"} and found["severity"] == {"high"}
    assert found["receiver"] == {"slack"}


def test_matchers_hold_on_any_value_and_absent_labels_are_empty() -> None:
    found = {"rule": {"s400", "sanctions"}, "desk": {"defence"}}
    assert matches([Matcher("rule", "=", "sanctions")], found)
    assert not matches([Matcher("rule", "!=", "sanctions")], found)
    assert matches([Matcher("rule", "=~", "s4.*")], found)
    assert matches([Matcher("desk", "=", "defence"), Matcher("region", "!=", "asia")], found)
    assert not matches([Matcher("region", "=", "asia")], found)
    assert matches([Matcher("region", "=", "")], found)  # an absent label is ""


def test_a_silence_is_active_from_its_start_to_its_end() -> None:
    s = silence("rule=s400", starts=100, ends=200)
    a = alert("slack")
    assert [s.mutes(a, t) for t in (99, 100, 199, 200)] == [False, True, True, False]


async def test_a_muted_post_and_a_muted_follow_up_are_recorded_not_sent(tmp_path: Path) -> None:
    sink = Capture(edits=False)
    first = story(FIRST)
    stories = {"story1": first}
    routed = Routed("slack", "0", update_interval=0.0)
    async with dispatcher(tmp_path, {"slack": sink}) as (d, outbox, metrics):
        outbox.story = stories.get
        outbox.store.add_silence(silence("story=other"))  # matches nothing here
        outbox.enqueue([(routed, alert_for(first, "slack"))], time.time())
        d.wake({"slack"})
        await settle(outbox)
        assert [a.mode for a in sink.got] == ["post"]

        muting = silence("story=story1", "entity=~S-.*")
        outbox.store.add_silence(muting)
        stories["story1"] = story(FIRST, member("AP", rules=("s400", "sanctions")))
        # due after the worker reads the silences again (at most once a second)
        outbox.enqueue_sync(stories["story1"], [routed], time.time() + 1.5)
        d.wake({"slack"})
        await settle(outbox)
        assert [a.mode for a in sink.got] == ["post"]  # the follow-up was muted
        (muted,) = [e for e in outbox.entries() if e.state == "muted"]
        assert muted.last_error == f"silenced by {muting.silence_id}"
        told = outbox.told("story1", "slack")
        assert told is not None and told.told == 2  # muted changes are not owed later
        value = metrics.registry.get_sample_value
        assert (
            value("newsmon_alert_deliveries_total", {"receiver": "slack", "outcome": "muted"}) == 1
        )
        assert outbox.store.expire_silence(muting.silence_id, time.time())
        assert not outbox.store.expire_silence(muting.silence_id, time.time())  # over already


async def test_the_silence_command_adds_lists_and_expires(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    code, out, err = await newsmon("silence", "add", "-c", str(config), "-m", "rule=s400",
                                   "-m", 'desk=~"def.*"', "--for", "1h", "--author", "ana",
                                   "--comment", "known story")  # fmt: skip
    assert code == 0, err
    ident = out.strip()
    listed = (await newsmon("silence", "list", "-c", str(config), "--json")).out.splitlines()
    (shown,) = [json.loads(line) for line in listed]
    assert shown["silence_id"] == ident and shown["active"]
    assert shown["matchers"] == ["rule=s400", "desk=~def.*"] and shown["author"] == "ana"
    assert (await newsmon("silence", "expire", ident, "-c", str(config))).code == 0
    assert (await newsmon("silence", "list", "-c", str(config))).out == ""
    assert ident in (await newsmon("silence", "list", "--all", "-c", str(config))).out
    bad = await newsmon("silence", "add", "-c", str(config), "-m", "rule", "--comment", "x")
    assert bad.code == 2 and "expected a matcher" in bad.err
    again = await newsmon("silence", "expire", ident, "-c", str(config))
    assert again.code == 1 and f"no silence {ident!r} in force" in again.err
