"""Mistakes a new user makes, each met by the real `newsmon` with a clear message and
the right exit code, never a traceback (issue: every config mistake caught)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
from pathlib import Path

import aiohttp
import pytest
from feedserver import FeedServer
from support.config import ROOT, file_receiver, write_config
from support.daemon import Daemon, command, newsmon, until
from support.net import free_port
from support.samples import EXPECTED, read_alerts, serve_samples

from monitor.config import FeedConfig
from monitor.errors import FetchError
from monitor.sources import report
from monitor.sources.report import FailureLog


async def test_check_names_an_unknown_receiver_kind_without_a_traceback(tmp_path: Path) -> None:
    config = write_config(tmp_path, receivers=["{name: desk, kind: flie, path: alerts.jsonl}"])
    code, out, err = await newsmon("check", "-c", str(config))
    assert code == 1
    assert err.splitlines() == [
        f"{config}:6: receiver 'desk': unknown kind 'flie' (did you mean 'file'?)"
    ]
    assert "Traceback" not in err and out == ""


def closed_pipe_run(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Run newsmon with stdout a pipe whose reader has already gone (`... | head`)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([*command(), *args], stdout=write, stderr=subprocess.PIPE,
                              timeout=60, check=False)  # fmt: skip
    finally:
        os.close(write)


async def test_a_closed_pipe_ends_output_quietly(tmp_path: Path, feed_server: FeedServer) -> None:
    config = write_config(tmp_path, serve_samples(feed_server))
    assert (await newsmon("run", "-c", str(config), "--once")).code == 0
    for args in (("check", "-c", str(config), "--dump"), ("alerts", "-c", str(config))):
        done = await asyncio.to_thread(closed_pipe_run, *args)
        assert (done.returncode, done.stderr) == (141, b""), (args, done.stderr.decode())


async def test_alerts_table_columns_line_up_and_count_the_send(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = write_config(tmp_path, serve_samples(feed_server))
    assert (await newsmon("run", "-c", str(config), "--once")).code == 0
    lines = (await newsmon("alerts", "-c", str(config))).out.splitlines()
    assert len(lines) == 1 + len(EXPECTED)
    head = lines[0]
    for column in ("RECEIVER", "STATE", "DUE", "LAST_ERROR", "TITLE"):
        at = head.index(column)
        assert all(line[at - 2 : at] == "  " and line[at] != " " for line in lines[1:]), column
    tries = head.index("TRIES") + len("TRIES")
    assert {line[tries - 1] for line in lines[1:]} == {"1"}  # sent at the first try: 1, not 0


async def test_ctrl_c_stops_the_daemon_and_its_workers_without_tracebacks(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Ctrl-C reaches the terminal's whole process group: the parse workers too."""
    config = write_config(tmp_path, serve_samples(feed_server))
    daemon = Daemon(config, new_session=True)
    await daemon.start()
    try:
        await until(lambda: len(read_alerts(tmp_path)) == len(EXPECTED), "the alerts")
        os.killpg(daemon.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        code = await daemon.stop(sig=0, timeout=60)
    finally:
        if daemon.running:
            await daemon.kill()
    log = daemon.log()
    assert code == 0, log
    assert (
        "Traceback" not in log and "ForkServerProcess" not in log and "KeyboardInterrupt" not in log
    )
    assert log.rstrip().endswith("stopped")


async def test_no_network_says_so_once_and_when_each_feed_is_tried_next(tmp_path: Path) -> None:
    feeds = [f"https://feeds-{n}.newsmon.invalid/rss.xml" for n in range(3)]  # never resolves
    config = write_config(tmp_path, feeds, fetch="{timeout: 10s}")
    code, _, err = await newsmon("run", "-c", str(config), "--once")
    assert code == 0, err
    failed = [line for line in err.splitlines() if "feed_failed" in line]
    assert len(failed) == 3 and all("reason=dns" in x and "next_poll_in=" in x for x in failed)
    (verdict,) = [line for line in err.splitlines() if "all_feeds_failing" in line]
    assert "reason=dns feeds=3" in verdict and "make demo" in verdict


def test_a_feed_that_keeps_failing_is_recalled_every_ten_minutes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    failures = FailureLog(feeds=2, clock=lambda: now[0])
    feed = FeedConfig(url="https://a.example/rss", name="a")
    with caplog.at_level(logging.WARNING, logger=report.log.name):
        for minute in range(25):  # polled every minute, failing every time
            now[0] = minute * 60.0
            failures.failed(feed, FetchError("http_5xx", "HTTP 503"), minute + 1, 60.0)
    said = [r.getMessage() for r in caplog.records]
    assert [line.split()[0] for line in said] == [
        "feed_failed", "feed_still_failing", "feed_still_failing",  # at 0, 10 and 20 minutes
    ]  # fmt: skip
    assert "errors=11" in said[1] and "next_poll_in=60s" in said[1]


async def test_test_rule_says_how_to_fetch_a_loopback_feed(feed_server: FeedServer) -> None:
    url = serve_samples(feed_server)["wire"]
    code, _, err = await newsmon("test-rule", str(ROOT / "rules" / "defense.yaml"), "--feed", url)
    assert code == 1
    assert "ssrf_blocked" in err and "pass --allow-private" in err
    code, out, _ = await newsmon(
        "test-rule", str(ROOT / "rules" / "defense.yaml"), "--feed", url, "--allow-private"
    )
    assert code == 0 and "MATCH s400" in out


async def readyz(port: int) -> tuple[int, str]:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(f"http://127.0.0.1:{port}/readyz") as resp,
        ):
            return resp.status, await resp.text()
    except (aiohttp.ClientError, TimeoutError):
        return 0, ""


async def test_one_state_file_one_daemon_and_a_deleted_state_file_is_noticed(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    port = free_port()
    first = write_config(
        tmp_path, serve_samples(feed_server), http=f"{{listen: '127.0.0.1:{port}'}}"
    )
    second = write_config(tmp_path, [], name="second.yaml", receivers=[file_receiver(tmp_path)])
    async with Daemon(first) as daemon:
        ready: list[tuple[int, str]] = []

        async def poll_ready() -> bool:
            ready.append(await readyz(port))
            return ready[-1][0] == 200

        async with asyncio.timeout(60):
            while not await poll_ready():
                await asyncio.sleep(0.2)

        code, _, err = await newsmon("run", "-c", str(second), "--once")  # the same state file
        assert code == 1
        assert (
            f"state file {tmp_path / 'state.db'} is in use by another newsmon (pid {daemon.pid})"
            in err
        )

        (tmp_path / "state.db").unlink()  # deleted under the running daemon
        async with asyncio.timeout(60):
            while (await readyz(port)) != (503, "not ready: store\n"):
                await asyncio.sleep(0.2)
        await until(lambda: "state_file_gone" in daemon.log(), "the log line")
    assert daemon.log().count("state_file_gone") == 1
