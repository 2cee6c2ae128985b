"""The Slack sink, in one of two modes, chosen by the receiver's options:

* ``url``: an incoming webhook. No message can be edited nor threaded there
  (``edits = False``): a story is posted once; a significant update comes as a
  short follow-up message ("Update: <title>: <changes> (N outlets)"), or not at
  all with ``followups: false``.
* ``token`` and ``channel`` (and ``api_url``, default https://slack.com/api/):
  the Web API with a bot token (:mod:`~monitor.alerts.sinks.slack_api`): the
  story's message is kept current in place, and significant updates are
  replied in its thread.

Exactly one of the two is given (``newsmon check`` says so, ``file:line``).
``timezone`` (IANA, default UTC) is the zone times are shown in, UTC beside.
``title_template`` and ``body_template`` (Jinja2, inline or ``@file``; see
:mod:`monitor.alerts.templates`) say what a message says: the headline, and the
text under the facts line (mrkdwn, every value escaped). What a message looks
like, and how feed text is made inert, is :mod:`~monitor.alerts.sinks.slack_blocks`.
The webhook URL and the token are secrets: never logged, and errors never carry them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, tzinfo
from pathlib import Path
from urllib.parse import urlsplit

from monitor.alerts import templates
from monitor.alerts.sinks import slack_blocks
from monitor.alerts.sinks.base import HttpSink, Receipt, Sink, part_of
from monitor.alerts.sinks.options import timezone, zone_of
from monitor.config import ReceiverConfig, ReceiverSchema, reveal, values
from monitor.errors import ConfigError, Problem
from monitor.model import Alert

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
SCHEMA = ReceiverSchema(
    required=frozenset(),
    optional=frozenset({"url", "token", "channel", "api_url", "timezone", "followups"})
    | templates.OPTIONS,
    convs={"timezone": timezone, "followups": values.boolean, "channel": values.string},
)
MAX_BATCH = slack_blocks.PER_MESSAGE


class SlackSink(HttpSink):
    """An incoming webhook: posts, and follow-ups as messages of their own."""

    max_batch: int | None = MAX_BATCH

    def __init__(self, url: str, *, zone: tzinfo = UTC, followups: bool = True,
                 words: slack_blocks.Words | None = None) -> None:  # fmt: skip
        super().__init__()
        self._url, self.zone, self.followups = url, zone, followups
        self.words = words or slack_blocks.Words()

    def __repr__(self) -> str:
        return "SlackSink(url='***')"

    async def send(self, alerts: Sequence[Alert]) -> Sequence[Receipt | None] | None:
        """Posts first (as many messages as they need), then each follow-up; an
        edit (never given: ``edits`` is False) is let go."""
        new = [a for a in alerts if a.mode == "post"]
        first, group = part_of(alerts) if len(new) == len(alerts) else (0, len(new))
        messages = slack_blocks.posts(new, self.zone, first, group, self.words) if new else []
        if self.followups:
            updates = [a for a in alerts if a.mode == "followup"]
            messages += [slack_blocks.followup(a, self.zone, self.words) for a in updates]
        for message in messages:
            body = {**message, "unfurl_links": False, "unfurl_media": False}
            await self.post(self._url, json.dumps(body, ensure_ascii=False).encode(),
                            {"Content-Type": "application/json"})  # fmt: skip
        return None  # a webhook gives no reference to the message it took


def _url(value: str, receiver: ReceiverConfig, option: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _problem(receiver, f"{option} must be an http(s) URL")
    return value if value.endswith("/") or option != "api_url" else value + "/"


def _problem(receiver: ReceiverConfig, message: str) -> ConfigError:
    return ConfigError([Problem(receiver.file, receiver.line, f"receiver {receiver.name!r}: "
                                                              f"{message}")])  # fmt: skip


def _mode(receiver: ReceiverConfig) -> str:
    """``webhook`` or ``api``, or the ConfigError saying what is missing or extra."""
    given = {k for k in ("url", "token", "channel", "api_url") if receiver.options.get(k)}
    if "url" in given and given & {"token", "channel", "api_url"}:
        extra = ", ".join(sorted(given & {"token", "channel", "api_url"}))
        raise _problem(
            receiver,
            "kind slack takes either url (an incoming webhook) or token "
            f"and channel (the Web API), not both: drop url or {extra}",
        )
    if "url" in given:
        return "webhook"
    if {"token", "channel"} <= given:
        return "api"
    if not given & {"token", "channel"}:
        raise _problem(receiver, "kind slack needs url (an incoming webhook), "
                                 "or token and channel (the Web API)")  # fmt: skip
    lacking = "channel" if "token" in given else "token"
    raise _problem(receiver, f"kind slack needs {lacking} too: the Web API takes token and channel")


def words(receiver: ReceiverConfig, base_dir: Path) -> slack_blocks.Words:
    """The receiver's templates (its own, else the defaults), compiled and tried."""
    title = templates.load(receiver, base_dir, "title_template", channel="slack",
                           fallback="slack.title.j2", limit=templates.TITLE_MAX)  # fmt: skip
    body = templates.load(receiver, base_dir, "body_template", channel="slack",
                          fallback="slack.body.j2", limit=slack_blocks.SECTION_MAX)  # fmt: skip
    return slack_blocks.Words(title, body)


def build(receiver: ReceiverConfig, base_dir: Path) -> Sink:
    o = receiver.options
    mode = _mode(receiver)
    zone = zone_of(o)
    followups = values.boolean(o.get("followups", True))
    said = words(receiver, base_dir)
    if mode == "webhook":
        return SlackSink(reveal(o["url"]), zone=zone, followups=followups, words=said)
    from monitor.alerts.sinks.slack_api import SlackApiSink

    api_url = _url(reveal(o.get("api_url", DEFAULT_API_URL)), receiver, "api_url")
    return SlackApiSink(reveal(o["token"]), values.string(o["channel"]), api_url=api_url,
                        zone=zone, followups=followups, words=said)  # fmt: skip
