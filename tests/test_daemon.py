"""End to end: the real `newsmon` command against a real local feed server."""

from __future__ import annotations

import os
from pathlib import Path

from feedserver import FeedServer, feed
from support.config import ROOT, write_config
from support.daemon import Daemon, newsmon, until
from support.net import free_port
from support.samples import EXPECTED, LAST_MODIFIED, read_alerts, serve_samples

alerts = read_alerts


async def test_once_writes_exactly_the_expected_alerts(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = write_config(tmp_path, serve_samples(feed_server))
    code, _, err = await newsmon("run", "-c", str(config), "--once")
    assert code == 0, err
    got = alerts(tmp_path)
    assert {a["title"]: a["rules"] for a in got} == EXPECTED
    assert len(got) == len(EXPECTED)
    by_title = {a["title"]: a for a in got}
    first = by_title["First S-400 components land at Mürted air base near Ankara"]
    assert first["link"] == "https://defence-wire.example/2019/07/12/s400-delivery"  # utm_ gone
    assert first["source"] == "Defence Wire (demo)"
    assert first["published"] == "2019-07-12T06:05:00Z"  # +0300 -> UTC
    assert first["severity"] == "high"
    assert "S-400" in first["matched"]  # type: ignore[operator]
    sanctions = by_title["Washington weighs CAATSA sanctions over Ankara's missile purchase"]
    assert sanctions["link"] == "https://world-desk.example/us-weighs-sanctions"  # no fragment
    assert all(a["receiver"] == "desk-file" for a in got)


async def test_second_poll_is_conditional_and_a_restart_alerts_nothing_again(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = write_config(tmp_path, serve_samples(feed_server))
    assert (await newsmon("run", "-c", str(config), "--once"))[0] == 0
    assert len(alerts(tmp_path)) == len(EXPECTED)
    feed_server.requests.clear()

    code, _, err = await newsmon("run", "-c", str(config), "--once")
    assert code == 0, err
    for path in ("/wire.xml", "/atom.xml", "/rdf.xml"):
        (hit,) = feed_server.hits(path)
        assert hit.headers.get("If-None-Match") == f'"{path[1:-4]}-v1"'
        assert hit.headers.get("If-Modified-Since") == LAST_MODIFIED
        assert hit.status == 304
    assert len(alerts(tmp_path)) == len(EXPECTED)

    serve_samples(feed_server, validators=False)  # a server that always sends the full body
    code, _, err = await newsmon("run", "-c", str(config), "--once")
    assert code == 0, err
    assert all(r.status == 200 for r in feed_server.requests[-3:])
    assert len(alerts(tmp_path)) == len(EXPECTED)  # seen items are not published again


async def test_run_until_sigterm_drains_and_exits_zero(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = write_config(tmp_path, serve_samples(feed_server))
    async with Daemon(config) as daemon:  # SIGTERM on the way out; it must exit 0
        await until(lambda: len(alerts(tmp_path)) >= len(EXPECTED), "every alert")
    assert "stopped" in daemon.log()


async def test_a_broken_feed_does_not_fail_the_run(tmp_path: Path, feed_server: FeedServer) -> None:
    feeds = serve_samples(feed_server)
    feeds["missing"] = feed_server.url("/nothing-here.xml")
    feeds["garbage"] = feed_server.add(
        "/garbage.xml", feed(b"<html><body>not a feed</body></html>")
    )
    config = write_config(tmp_path, feeds)
    code, _, err = await newsmon("run", "-c", str(config), "--once")
    assert code == 0, err
    assert len(alerts(tmp_path)) == len(EXPECTED)
    assert "reason=http_4xx" in err and "reason=parse_error" in err


async def test_check_reports_every_mistake_with_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "feeds:\n  - ftp://example.com/feed.xml\nschedule: {interval: soon}\nrecievers: []\n",
        encoding="utf-8",
    )
    code, _, err = await newsmon("check", "-c", str(config))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 3, err
    assert lines[0].startswith(f"{config}:2: ")
    assert lines[1].startswith(f"{config}:3: ")
    assert lines[2].startswith(f"{config}:4: ") and "did you mean 'receivers'" in lines[2]


async def test_check_accepts_a_valid_config_and_reports_rule_errors(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = write_config(tmp_path, serve_samples(feed_server))
    code, out, err = await newsmon("check", "-c", str(config))
    assert code == 0, err
    assert "ok: 3 feeds" in out

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "bad.yaml").write_text("rules:\n  - name: x\n", encoding="utf-8")
    text = config.read_text(encoding="utf-8").replace(f"{ROOT}/rules/*.yaml", "rules/*.yaml")
    config.write_text(text, encoding="utf-8")
    code, out, err = await newsmon("check", "-c", str(config))
    assert code == 1
    assert f"{tmp_path}/rules/bad.yaml:2: rule 'x': needs either 'query' or 'keywords'" in err


async def test_check_reports_config_and_rule_problems_in_one_run(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "bad.yaml").write_text("rules:\n  - name: x\n", encoding="utf-8")
    config = tmp_path / "bad.yaml"
    config.write_text(
        "feeds: [ftp://example.com/feed.xml]\nrules: ['rules/*.yaml']\nrecievers: []\n",
        encoding="utf-8",
    )
    code, out, err = await newsmon("check", "-c", str(config))
    assert code == 1
    assert err.strip().splitlines() == [
        f"{config}:1: feed URL: expected an http(s) URL with a host, got 'ftp://example.com/feed.xml'",
        f"{config}:3: unknown key 'recievers' (did you mean 'receivers'?)",
        f"{tmp_path}/rules/bad.yaml:2: rule 'x': needs either 'query' or 'keywords'",
    ]
    assert "ok:" not in out


async def test_secret_in_a_feed_url_is_never_shown(tmp_path: Path, feed_server: FeedServer) -> None:
    """A feed URL written with ${VAR}: the feed is fetched with the value, but the
    value is in no alert, no log line (at debug level) and no dump."""
    secret = "SUPERSECRETKEY-7f3a"
    env = dict(os.environ, NEWSMON_FEED_KEY=secret)
    feeds = serve_samples(feed_server)
    feeds["wire"] += "?key=${NEWSMON_FEED_KEY}"
    feeds["atom"] = feeds["atom"].replace("http://", "http://reader:${NEWSMON_FEED_KEY}@")
    config = write_config(tmp_path, feeds, log="{level: debug}")
    code, _, err = await newsmon("run", "-c", str(config), "--once", env=env)
    assert code == 0, err
    assert [r.query for r in feed_server.hits("/wire.xml")] == [f"key={secret}"]  # fetched
    assert feed_server.hits("/atom.xml")[0].headers["Authorization"].startswith("Basic ")
    got = (tmp_path / "alerts.jsonl").read_text(encoding="utf-8")
    assert len(alerts(tmp_path)) == len(EXPECTED)
    assert {a["feed_url"] for a in alerts(tmp_path)} >= {
        feeds["wire"],  # as written: ?key=${NEWSMON_FEED_KEY}
        feed_server.url("/atom.xml").replace("http://", "http://***@"),
    }
    code, out, dump_err = await newsmon("check", "-c", str(config), "--dump", env=env)
    assert code == 0, dump_err
    assert "${NEWSMON_FEED_KEY}" in out and "***" in out
    for text in (got, err, out, dump_err):
        assert secret not in text


async def test_shipped_example_config_is_valid() -> None:
    code, out, err = await newsmon("check", "-c", str(ROOT / "examples" / "newsmon.yaml"))
    assert code == 0, err
    assert "ok: 6 feeds" in out


async def test_no_secret_in_check_dump(tmp_path: Path) -> None:
    config = tmp_path / "s.yaml"
    config.write_text(
        "receivers:\n  - {name: hook, kind: file, path: '${NEWSMON_TEST_SECRET}'}\n",
        encoding="utf-8",
    )
    env = dict(os.environ, NEWSMON_TEST_SECRET="hunter2-very-secret")
    code, out, err = await newsmon("check", "-c", str(config), "--dump", env=env)
    assert code == 0, err
    assert "hunter2" not in out + err
    assert "***" in out


async def test_a_signal_while_the_broker_never_answered_stops_the_start(tmp_path: Path) -> None:
    """Kafka configured, nothing listening: the daemon keeps trying to reach the broker
    (``bus_unavailable``); SIGTERM then abandons the start and exits 0 (it used to go on
    retrying until killed)."""
    port = free_port()  # bound once, then closed: nobody listens there
    bus = (f"{{kind: kafka, bootstrap_servers: ['127.0.0.1:{port}'], topic_prefix: t,"
           " group_id: t, session_timeout: 6s, heartbeat_interval: 1s}")  # fmt: skip
    daemon = Daemon(write_config(tmp_path, bus=bus))
    await daemon.start()
    await until(lambda: "bus_unavailable" in daemon.log(), "the broker tried", 60)
    code = await daemon.stop(timeout=60)  # SIGTERM; SIGKILL (-9) if it does not exit
    assert code == 0, daemon.log()[-3000:]
    assert "stopped while starting" in daemon.log()
    assert "Traceback" not in daemon.log()
