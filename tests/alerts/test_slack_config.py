"""A Slack receiver is an incoming webhook (url) or the Web API (token and
channel), exactly one: anything else is a config problem at the receiver's line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.alerts.sinks import build, schemas
from monitor.alerts.sinks.slack import SlackSink
from monitor.alerts.sinks.slack_api import SlackApiSink
from monitor.config import load_config
from monitor.errors import ConfigError


def settings_of(tmp_path: Path, receiver: str) -> Path:
    path = tmp_path / "newsmon.yaml"
    lines = ["receivers:", "  - {name: desk, kind: file, path: a.jsonl}",
             f"  - {{name: slack, kind: slack, {receiver}}}"]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ("url: 'https://hooks.example/x', token: t, channel: '#desk'",
         "kind slack takes either url (an incoming webhook) or token and channel (the Web API), "
         "not both: drop url or channel, token"),
        ("token: t", "kind slack needs channel too: the Web API takes token and channel"),
        ("channel: '#desk'", "kind slack needs token too: the Web API takes token and channel"),
        ("timezone: UTC", "kind slack needs url (an incoming webhook), or token and channel "
                          "(the Web API)"),
        ("token: t, channel: '#desk', api_url: 'ftp://x'", "api_url must be an http(s) URL"),
    ],
)  # fmt: skip
def test_exactly_one_mode_or_a_problem_at_the_receivers_line(
    tmp_path: Path, options: str, problem: str
) -> None:
    path = settings_of(tmp_path, options)
    settings = load_config(path, receivers=schemas())
    with pytest.raises(ConfigError) as caught:
        build(settings.receivers[1], tmp_path)
    assert [str(p) for p in caught.value.problems] == [f"{path}:3: receiver 'slack': {problem}"]


def test_newsmon_check_says_so_and_never_shows_the_token(tmp_path: Path) -> None:
    path = settings_of(tmp_path, "url: 'https://hooks.example/x', token: '${SLACK_BOT_TOKEN}'")
    env = {"SLACK_BOT_TOKEN": "xoxb-very-secret", "PATH": "/usr/bin:/bin"}
    check = subprocess.run([sys.executable, "-m", "monitor.cli", "check", "-c", str(path)],
                           capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert check.returncode == 1
    assert check.stderr.startswith(f"{path}:3: receiver 'slack': kind slack takes either url")
    assert "xoxb-very-secret" not in check.stderr + check.stdout


def test_the_web_api_mode_is_built_with_its_options(tmp_path: Path) -> None:
    path = settings_of(tmp_path, "token: '${SLACK_BOT_TOKEN}', channel: '#desk', "
                                 "api_url: 'http://127.0.0.1:9/api', timezone: Europe/Moscow, "
                                 "followups: false")  # fmt: skip
    settings = load_config(path, env={"SLACK_BOT_TOKEN": "xoxb-s3cret"}, receivers=schemas())
    sink = build(settings.receivers[1], tmp_path)
    assert isinstance(sink, SlackApiSink) and sink.edits and sink.max_batch == 12
    assert (sink.channel, sink.api_url, sink.followups) == ("#desk", "http://127.0.0.1:9/api/",
                                                            False)  # fmt: skip
    assert sink.zone == ZoneInfo("Europe/Moscow")
    assert "xoxb-s3cret" not in repr(sink)


def test_the_webhook_mode_takes_a_zone_and_followups(tmp_path: Path) -> None:
    path = settings_of(tmp_path, "url: 'https://hooks.example/x', followups: no")
    sink = build(load_config(path, receivers=schemas()).receivers[1], tmp_path)
    assert isinstance(sink, SlackSink) and not sink.edits and not sink.followups
    assert "hooks.example" not in repr(sink)


def test_a_bad_time_zone_or_followups_value_is_named_at_load(tmp_path: Path) -> None:
    path = settings_of(tmp_path, "url: 'https://h.example/x', timezone: Mars/Olympus, "
                                 "followups: maybe")  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_config(path, receivers=schemas())
    shown = sorted(str(p) for p in caught.value.problems)
    assert shown == [
        f"{path}:3: receiver 'slack': followups: expected true or false, got 'maybe'",
        f"{path}:3: receiver 'slack': timezone: expected an IANA time zone such as "
        "'Europe/London', got 'Mars/Olympus'",
    ]
