"""`newsmon alerts`: list the outbox, re-queue a dead-lettered alert, against a real
daemon run, a real store and a real webhook stand-in."""

from __future__ import annotations

import json
from pathlib import Path

from feedserver import FeedServer
from standins import HookServer
from support.daemon import newsmon
from test_crash import write_config


async def run_once(config: Path) -> None:
    code, _, err = await newsmon("run", "-c", str(config), "--once", timeout=90)
    assert code == 0, err


async def test_failed_alerts_are_listed_and_a_retried_one_is_sent_once(
    tmp_path: Path, feed_server: FeedServer, hook: HookServer
) -> None:
    config = write_config(tmp_path, feed_server, hook)
    hook.default = 410  # the receiver is gone: dead letter at once, no retry
    await run_once(config)
    assert len(hook.received("/hook")) == 3  # one attempt per story

    listed = await newsmon("alerts", "-c", str(config), "--failed", "--json")
    assert listed.code == 0, listed.err
    failed = [json.loads(line) for line in listed.out.splitlines()]
    assert len(failed) == 3
    assert {f["state"] for f in failed} == {"dead"}
    assert {f["last_error"] for f in failed} == {"http_4xx: HTTP 410"}
    assert (await newsmon("alerts", "-c", str(config), "--pending", "--json")).out == ""

    table = (await newsmon("alerts", "-c", str(config))).out.splitlines()
    assert table[0].split()[:3] == ["ALERT_ID", "RECEIVER", "STATE"]
    assert len(table) == 4 and all(" dead " in line for line in table[1:])

    chosen = failed[0]["alert_id"]
    retried = await newsmon("alerts", "retry", chosen, "-c", str(config))
    assert retried.code == 0, retried.err
    assert f"{chosen}: queued" in retried.out
    missing = await newsmon("alerts", "-c", str(config), "retry", "nope")
    assert missing.code == 1 and "no alert 'nope'" in missing.err

    hook.default = 200
    await run_once(config)
    accepted = [json.loads(r.body)["alerts"][0]["alert_id"] for r in hook.received("/hook", 200)]
    assert accepted == [chosen]  # the re-queued one, once; the others stay dead
    sent = (await newsmon("alerts", "-c", str(config), "--sent", "--json")).out.splitlines()
    assert [json.loads(line)["alert_id"] for line in sent] == [chosen]
    still = (await newsmon("alerts", "-c", str(config), "--failed", "--json")).out.splitlines()
    assert {json.loads(line)["alert_id"] for line in still} == {f["alert_id"] for f in failed[1:]}


async def test_alerts_needs_a_config() -> None:
    result = await newsmon("alerts")
    assert result.code == 2 and "--config is required" in result.err
