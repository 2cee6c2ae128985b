"""The apprise sink: alerts to any of the services the Apprise library reaches
(Telegram, Microsoft Teams, Discord, Matrix, ntfy, PagerDuty, Pushover, Signal,
... ``tgram://``, ``msteams://``, ``discord://``, ``matrix://``, ``ntfy://``,
``pagerduty://``: https://github.com/caronc/apprise/wiki), one Apprise URL per target::

    - {name: phones, kind: apprise, urls: ["${NTFY_URL}", "tgram://${TG_TOKEN}/${TG_CHAT}"]}

``url`` (one) or ``urls`` (a list); each is a secret as far as newsmon is concerned:
never logged, never in an error (only its place in the list and its scheme).
A URL Apprise cannot use (an unknown service, a malformed URL) is a config
problem (``newsmon check``), found without network.

Messages are plain text (Apprise converts and escapes it for each service, so
``<!channel>`` reaches Slack as text): a group's posts are one notification of at
most ``max_batch`` (10) alerts, the title saying which part of the group it is;
each follow-up (``followups: false``: none) a notification of its own; no edits.
The type is the severity's (low, medium: info; high: warning; critical:
failure), which services show as a colour or an icon. What they say is the
receiver's ``title_template`` and ``body_template`` (text; defaults
``text.title.j2`` and ``text.body.j2``). Apprise paces each service itself (up
to 5.5 s between two notifications to one target); ``timeout`` (default 20s,
under ``delivery.timeout``) bounds one notification, waits included.

Failures: Apprise answers only whether a target took the notification, so every
refusal is retried by the one delivery loop (``other``, or ``timeout``) until the
horizon, then dead-lettered. Apprise's own log lines about a refusal are logged
at debug, with every part of the target's URL cut out; Apprise's logger itself
(and urllib3's, under it) is kept off newsmon's handlers (at debug they print
URLs and payloads). A message a
target already took is not sent to it again when a retry sends it to the others.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any

import apprise

from monitor.alerts import render, templates
from monitor.alerts.sinks.base import part_of, refuse, url_options, which_url
from monitor.alerts.sinks.options import timezone, zone_of
from monitor.config import ReceiverConfig, ReceiverSchema, values
from monitor.errors import DeliveryError
from monitor.model import Alert

log = logging.getLogger(__name__)
# Apprise's debug lines carry URLs and payloads, and those of urllib3 (under
# requests, which Apprise's services use; nothing else in newsmon does) the paths
# of the URLs they POST to: both are kept off newsmon's handlers.
for _quiet in (apprise.LOGGER_NAME, "urllib3"):
    logging.getLogger(_quiet).propagate = False
    logging.getLogger(_quiet).addHandler(logging.NullHandler())

MAX_BATCH = 10
_INFO, _WARNING, _FAILURE = (apprise.NotifyType.INFO, apprise.NotifyType.WARNING,
                             apprise.NotifyType.FAILURE)  # fmt: skip
TYPES = {"low": _INFO, "medium": _INFO, "high": _WARNING, "critical": _FAILURE}
Message = tuple[tuple[str, ...], str, str, apprise.NotifyType]  # identity, title, body, type
REMEMBERED = 1024  # messages whose takers a retry remembers
_PARTS = re.compile(r"[^/:@?&=#,;+\s]{3,}")


def urls(value: Any) -> tuple[str, ...]:
    """One URL, or a non-empty list of them."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise values.Invalid("expected an Apprise URL or a list of them, got an empty list")
    return tuple(values.string(item) for item in items)


SCHEMA = ReceiverSchema(
    required=frozenset(),
    optional=frozenset({"url", "urls", "timezone", "followups", "timeout"}) | templates.OPTIONS,
    convs={
        "url": values.string,
        "urls": urls,
        "timezone": timezone,
        "followups": values.boolean,
        "timeout": values.duration,
    },
)


class Target:
    """One Apprise URL: its own Apprise object, and what may be said of it."""

    def __init__(self, index: int, url: str) -> None:
        self.index, self.scheme = index, url.partition("://")[0].lower() or "?"
        self.apprise = apprise.Apprise(asset=apprise.AppriseAsset(storage_mode="memory"))
        self.usable = self.apprise.add(url)
        self._parts = sorted({p for p in _PARTS.findall(url) if p.lower() != self.scheme},
                             key=len, reverse=True)  # fmt: skip

    def __repr__(self) -> str:
        return f"Target({self.index}, {self.scheme}://***)"

    def scrub(self, text: str) -> str:
        """``text`` with every part of this target's URL (host, tokens, ids) cut out."""
        for part in self._parts:
            text = text.replace(part, "***")
        return text


class AppriseSink:
    edits = False  # see Sink
    max_batch: int | None = MAX_BATCH

    def __init__(self, name: str, targets: Sequence[Target], *, zone: tzinfo = UTC,
                 followups: bool = True, timeout: float = 20.0,
                 title: templates.Template | None = None,
                 body: templates.Template | None = None) -> None:  # fmt: skip
        self.name, self.targets, self.zone = name, list(targets), zone
        self.followups, self.timeout = followups, timeout
        self.title = title or templates.default("text.title.j2", "text", templates.TITLE_MAX)
        self.body = body or templates.default("text.body.j2", "text")
        self._taken: OrderedDict[tuple[str, ...], set[int]] = OrderedDict()

    def __repr__(self) -> str:
        return f"AppriseSink(name={self.name!r}, targets={len(self.targets)})"

    async def __aenter__(self) -> AppriseSink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, alerts: Sequence[Alert]) -> None:
        """Each message to every target that has not taken it yet; fails (retried)
        if any target refused one, after all were tried."""
        errors = [e for message in self.messages(alerts) if (e := await self._deliver(*message))]
        if errors:
            timeout = all(e.reason == "timeout" for e in errors)
            raise DeliveryError("timeout" if timeout else "other", errors[0].detail,
                                retryable=True)  # fmt: skip

    def messages(self, alerts: Sequence[Alert]) -> list[Message]:
        """(identity, title, body, type) of each notification the alerts make."""
        out = []
        posts = [a for a in alerts if a.mode == "post"]
        first, group = part_of(alerts) if len(posts) == len(alerts) else (0, len(posts))
        if posts:
            out.append(self._message(posts, first, group))
        if self.followups:
            out += [self._message([a], 0, 1) for a in alerts if a.mode == "followup"]
        return out

    def _message(self, alerts: Sequence[Alert], first: int, group: int) -> Message:
        title = render.one_line(self.title.render(alerts, self.zone, first=first, group=group))
        body = self.body.render(alerts, self.zone, first=first, group=group).rstrip()
        top = max(alerts, key=lambda a: render.rank(a.severity))
        ident = (alerts[0].mode, *(a.alert_id for a in alerts))
        return ident, title, body, TYPES.get(top.severity, apprise.NotifyType.INFO)

    async def _deliver(self, ident: tuple[str, ...], title: str, body: str,
                       kind: apprise.NotifyType) -> DeliveryError | None:  # fmt: skip
        taken = self._taken.setdefault(ident, set())
        self._taken.move_to_end(ident)
        while len(self._taken) > REMEMBERED:
            self._taken.popitem(last=False)
        todo = [t for t in self.targets if t.index not in taken]
        outcomes = await asyncio.gather(*(self._notify(t, title, body, kind) for t in todo))
        refused = [t for t, ok in zip(todo, outcomes, strict=True) if ok is not True]
        taken.update(t.index for t, ok in zip(todo, outcomes, strict=True) if ok is True)
        if not refused:
            self._taken.pop(ident, None)
            return None
        where = ", ".join(f"#{t.index + 1} ({t.scheme})" for t in refused)
        reason = "timeout" if all(ok == "timeout" for ok in outcomes if ok is not True) else "other"
        detail = f"apprise: {len(refused)} of {len(self.targets)} targets refused: {where}"
        return DeliveryError(reason, detail, retryable=True)

    async def _notify(self, target: Target, title: str, body: str,
                      kind: apprise.NotifyType) -> bool | str:  # fmt: skip
        """True if ``target`` took it; else "timeout" or "refused" (logged at debug)."""
        result = await target.apprise.async_notify(
            body=body, title=title, notify_type=kind, body_format=apprise.NotifyFormat.TEXT,
            timeout=self.timeout,
        )  # fmt: skip
        if result:
            return True
        said = "; ".join(target.scrub(render.one_line(e.message)) for e in result.logs())
        log.debug("apprise_refused receiver=%s target=%d service=%s status=%s reason=%s",
                  self.name, target.index + 1, target.scheme, result.status.name,
                  render.clip(said, 500) or "(none given)")  # fmt: skip
        return "timeout" if result.status == apprise.AppriseResultStatus.TIMEOUT else "refused"


def build(receiver: ReceiverConfig, base_dir: Path) -> AppriseSink:
    o = receiver.options
    given, problems = url_options(receiver, "one Apprise URL")
    targets = [Target(i, url) for i, url in enumerate(given)]
    for t in targets:
        if not t.usable:
            problems.append(f"{which_url(receiver, t.index)} ({t.scheme}://...): Apprise cannot"
                            " use it (an unknown service, or a malformed URL for it)")  # fmt: skip
    refuse(receiver, problems)
    title = templates.load(receiver, base_dir, "title_template", channel="text",
                           fallback="text.title.j2", limit=templates.TITLE_MAX)  # fmt: skip
    body = templates.load(receiver, base_dir, "body_template", channel="text",
                          fallback="text.body.j2")  # fmt: skip
    return AppriseSink(receiver.name, targets, zone=zone_of(o),
                       followups=values.boolean(o.get("followups", True)),
                       timeout=values.duration(o.get("timeout", 20.0)), title=title,
                       body=body)  # fmt: skip
