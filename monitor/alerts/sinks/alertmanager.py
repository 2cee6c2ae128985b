"""The alertmanager sink: stories as Prometheus Alertmanager alerts, so a team that
runs Alertmanager routes, groups, silences and inhibits them with the rest of its
alerts, and reaches its receivers::

    - {name: am, kind: alertmanager, url: "http://alertmanager:9093", resolve_after: 1h}

Each message is a POST of ``/api/v2/alerts`` (a JSON array of postable alerts) to
``url`` (the Alertmanager's base URL; ``urls``: every instance of an HA cluster,
which Alertmanager wants each told; credentials in the URL as ``${...}``). One
alert per story and rule, so the alert a rule raised keeps its identity (its
label set) as the story grows and other rules join, and ``rule="s400"`` selects
exactly it in a route or a silence (``group_by: [story]`` in Alertmanager shows a
story's rules as one notification). Labels:

* ``alertname="NewsmonStory"``, ``story`` (the story's id), ``rule``, ``severity``,
  ``receiver`` (this receiver's name);
* every label of the story's rules (``desk: defence``; values of several rules
  joined with ``,``) whose name Alertmanager takes, and the receiver's own
  ``labels`` option (``{team: osint}``).

Annotations: ``title``, ``summary`` (the receiver's ``title_template`` and
``body_template``, text; by default the headline, and the story's summary with
what is new first), ``link``, ``outlets``, ``status``. ``startsAt`` is when
newsmon first saw the story, ``endsAt`` now + ``resolve_after`` (default 1h), and
``generatorURL`` the story's link (http(s) only). The sink edits
(``edits = True``): every change of the story posts its alerts again, which
Alertmanager takes as an update of the same alerts, so a growing story keeps
firing, its annotations current, and one that stops growing resolves
``resolve_after`` later. When a story's severity changes, the alerts of its
other severities are posted resolved (``endsAt`` now), so one alert per story and
rule fires at a time. Answers are classified by the shared HTTP rules (2xx ok,
429/5xx retried, another 4xx, a payload Alertmanager refused, dead-lettered).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.alerts import render, templates
from monitor.alerts.sinks.base import HttpSink, refuse, url_options, which_url
from monitor.config import ReceiverConfig, ReceiverSchema, values
from monitor.model import SEVERITIES, Alert, iso

ALERTNAME = "NewsmonStory"
PATH = "/api/v2/alerts"
MAX_BATCH = 100
OWN = ("alertname", "story", "rule", "severity", "receiver")  # labels newsmon sets
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
Clock = Callable[[], datetime]


def label_names(value: Any) -> dict[str, str]:
    """``labels``: a mapping of Alertmanager label names to non-empty strings."""
    if not isinstance(value, Mapping) or not value:
        raise values.Invalid(
            f"expected a mapping of label names to values, got {values.show(value)}"
        )
    out = {}
    for key, v in value.items():
        if not isinstance(key, str) or not _LABEL.fullmatch(key) or key in OWN:
            raise values.Invalid(f"label name {key!r}: expected [a-zA-Z_][a-zA-Z0-9_]*, not one of "
                                 f"{', '.join(OWN)}")  # fmt: skip
        out[key] = values.string(v)
    return out


SCHEMA = ReceiverSchema(
    required=frozenset(),
    optional=frozenset({"url", "urls", "resolve_after", "labels"}) | templates.OPTIONS,
    convs={
        "url": values.string,
        "urls": values.strings,
        "resolve_after": values.duration,
        "labels": label_names,
    },
)


class AlertmanagerSink(HttpSink):
    edits = True  # see Sink: posting an alert again updates it in Alertmanager
    max_batch: int | None = MAX_BATCH

    def __init__(self, name: str, urls: Sequence[str], *, resolve_after: float = 3600.0,
                 labels: Mapping[str, str] | None = None,
                 title: templates.Template | None = None,
                 summary: templates.Template | None = None,
                 clock: Clock = lambda: datetime.now(UTC)) -> None:  # fmt: skip
        super().__init__()
        self.name, self.endpoints = name, [endpoint(u) for u in urls]
        self.resolve_after, self.labels, self.clock = resolve_after, dict(labels or {}), clock
        self.title = title or templates.default("alertmanager.title.j2", "text",
                                                templates.TITLE_MAX)  # fmt: skip
        self.summary = summary or templates.default("alertmanager.summary.j2", "text")

    def __repr__(self) -> str:
        return f"AlertmanagerSink(name={self.name!r}, urls='***')"

    async def send(self, alerts: Sequence[Alert]) -> None:
        """One POST of every alert's postable alerts to each Alertmanager."""
        now = self.clock()
        body = json.dumps([p for a in alerts for p in self.postable(a, now)],
                          ensure_ascii=False).encode()  # fmt: skip
        headers = {"Content-Type": "application/json", "User-Agent": "newsmon"}
        for url in self.endpoints:
            await self.post(url, body, headers)

    def postable(self, alert: Alert, now: datetime) -> list[dict[str, Any]]:
        """The postable alerts of ``alert``: one per rule, firing until now +
        resolve_after; after a story was first posted, its other severities resolved."""
        starts = iso(min(alert.item_seen or alert.created, now))  # never after endsAt
        ends = iso(now + timedelta(seconds=self.resolve_after))
        annotations = self._annotations(alert)
        others = [] if alert.mode == "post" and alert.event == "created" else [
            s for s in SEVERITIES if s != alert.severity
        ]  # fmt: skip
        out = []
        for rule in alert.rules or ("(none)",):
            labels = self._labels(alert, rule)
            entry: dict[str, Any] = {"labels": labels, "annotations": annotations,
                                     "startsAt": starts, "endsAt": ends}  # fmt: skip
            if link := render.safe_link(alert.link):
                entry["generatorURL"] = link
            out.append(entry)
            out += [{"labels": {**labels, "severity": s}, "annotations": annotations,
                     "startsAt": starts, "endsAt": iso(now)} for s in others]  # fmt: skip
        return out

    def _labels(self, alert: Alert, rule: str) -> dict[str, str]:
        joined: dict[str, list[str]] = {}
        for key, value in alert.labels:
            if _LABEL.fullmatch(key) and key not in OWN and value:
                joined.setdefault(key, []).append(value)
        labels = {k: ",".join(dict.fromkeys(v)) for k, v in joined.items()} | self.labels
        return labels | {"alertname": ALERTNAME, "story": alert.story_id, "rule": rule,
                         "severity": alert.severity, "receiver": alert.receiver}  # fmt: skip

    def _annotations(self, alert: Alert) -> dict[str, str]:
        found = {
            "title": render.one_line(self.title.render([alert])),
            "summary": self.summary.render([alert]).strip(),
            "link": render.safe_link(alert.link) or "",
            "outlets": render.outlets(alert).removeprefix("Outlets: "),
            "status": render.status(alert),
        }
        return {k: v for k, v in found.items() if v}


def endpoint(url: str) -> str:
    """``/api/v2/alerts`` of an Alertmanager's base URL (as given, if it ends so)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    path = path if path.endswith(PATH) else path + PATH
    return parts._replace(path=path).geturl()


def build(receiver: ReceiverConfig, base_dir: Path) -> AlertmanagerSink:
    o = receiver.options
    given, problems = url_options(receiver, "an Alertmanager's base URL")
    for n, url in enumerate(given):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"{which_url(receiver, n)} must be an http(s) URL with a host")
    refuse(receiver, problems)
    title = templates.load(receiver, base_dir, "title_template", channel="text",
                           fallback="alertmanager.title.j2", limit=templates.TITLE_MAX)  # fmt: skip
    summary = templates.load(receiver, base_dir, "body_template", channel="text",
                             fallback="alertmanager.summary.j2", limit=16 * 1024)  # fmt: skip
    return AlertmanagerSink(receiver.name, given,
                            resolve_after=values.duration(o.get("resolve_after", 3600.0)),
                            labels=label_names(o["labels"]) if o.get("labels") else None,
                            title=title, summary=summary)  # fmt: skip
