"""`newsmon alerts`: list the outbox, re-queue a dead-lettered alert, against a real
daemon run, a real store and a real webhook stand-in."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from feedserver import FeedServer
from standins import HookServer
from test_crash import write_config


def newsmon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip


async def run_once(config: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor.cli", "run", "-c", str(config), "--once",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, err.decode()


async def test_failed_alerts_are_listed_and_a_retried_one_is_sent_once(
    tmp_path: Path, feed_server: FeedServer, hook: HookServer
) -> None:
    config = write_config(tmp_path, feed_server, hook)
    hook.default = 410  # the receiver is gone: dead letter at once, no retry
    await run_once(config)
    assert len(hook.received("/hook")) == 3  # one attempt per story

    listed = newsmon("alerts", "-c", str(config), "--failed", "--json")
    assert listed.returncode == 0, listed.stderr
    failed = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(failed) == 3
    assert {f["state"] for f in failed} == {"dead"}
    assert {f["last_error"] for f in failed} == {"http_4xx: HTTP 410"}
    assert newsmon("alerts", "-c", str(config), "--pending", "--json").stdout == ""

    table = newsmon("alerts", "-c", str(config)).stdout.splitlines()
    assert table[0].split()[:3] == ["ALERT_ID", "RECEIVER", "STATE"]
    assert len(table) == 4 and all(" dead " in line for line in table[1:])

    chosen = failed[0]["alert_id"]
    retried = newsmon("alerts", "retry", chosen, "-c", str(config))
    assert retried.returncode == 0, retried.stderr
    assert f"{chosen}: queued" in retried.stdout
    missing = newsmon("alerts", "-c", str(config), "retry", "nope")
    assert missing.returncode == 1 and "no alert 'nope'" in missing.stderr

    hook.default = 200
    await run_once(config)
    accepted = [json.loads(r.body)["alerts"][0]["alert_id"] for r in hook.received("/hook", 200)]
    assert accepted == [chosen]  # the re-queued one, once; the others stay dead
    sent = newsmon("alerts", "-c", str(config), "--sent", "--json").stdout.splitlines()
    assert [json.loads(line)["alert_id"] for line in sent] == [chosen]
    still = newsmon("alerts", "-c", str(config), "--failed", "--json").stdout.splitlines()
    assert {json.loads(line)["alert_id"] for line in still} == {f["alert_id"] for f in failed[1:]}


def test_alerts_needs_a_config() -> None:
    result = newsmon("alerts")
    assert result.returncode == 2 and "--config is required" in result.stderr
