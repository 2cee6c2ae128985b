"""What an alert says, as plain text (pure). Each sink escapes for its own format.

The shared pieces: the severity's colour and emoji, times in the receiver's zone
with UTC beside (:func:`when`), the outlets line, the story's status line
("N outlets · latest: AP, 09:10 MSK (06:10 UTC)"), the members list and the
changes of an update, and a whole plain-text body (:func:`text`).

Feed text is untrusted: control characters (terminal escapes, bidi overrides,
CR/LF where a line is expected) are replaced, and every field is clipped to a
bound with a visible marker, so one hostile item cannot blow a message's size.
A link is never clipped (a cut URL is a wrong URL, and inside Slack's
``<url|label>`` it breaks the headline): one longer than :data:`LINK_MAX` is
not linked at all; the title still shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from urllib.parse import urlsplit

from monitor.model import SEVERITIES, Alert, StoryMember

TRUNCATED = "… [truncated]"
TITLE_MAX = 300
SUMMARY_MAX = 600
EVIDENCE_MAX = 5
LINK_MAX = 2000  # characters: longer links are dropped, not clipped
OUTLETS_MAX = 10  # outlets named in an outlets line; the rest counted
MEMBERS_MAX = 20  # members listed; the rest counted
CHANGES_MAX = 10  # changes listed; the rest counted
NAME_MAX = 60  # an outlet's or a term's name
# severity -> (colour, emoji): low grey, medium yellow, high orange, critical red
SEVERITY_STYLE = {
    "low": ("#757575", "\u26aa"),  # ⚪
    "medium": ("#f9ab00", "\U0001f7e1"),  # 🟡
    "high": ("#e8710a", "\U0001f7e0"),  # 🟠
    "critical": ("#c5221f", "\U0001f534"),  # 🔴
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_KEEP_NL = re.compile(
    r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def one_line(text: str) -> str:
    """Control characters (CR/LF too) replaced by spaces, runs of spaces collapsed."""
    return " ".join(_CONTROL.sub(" ", text).split())


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, with a marker if cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(TRUNCATED))].rstrip() + TRUNCATED


def safe_link(url: str | None) -> str | None:
    """The link if it is an absolute http(s) URL without spaces or controls and at
    most LINK_MAX characters long, else None."""
    if not url or len(url) > LINK_MAX or _CONTROL.search(url) or " " in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def title(alert: Alert) -> str:
    return clip(one_line(alert.title) or "(untitled)", TITLE_MAX)


def summary(alert: Alert) -> str:
    return clip(one_line(alert.summary), SUMMARY_MAX)


def colour(severity: str) -> str:
    """The severity's colour (``#rrggbb``); an unknown severity is grey."""
    return SEVERITY_STYLE.get(severity, SEVERITY_STYLE["low"])[0]


def emoji(severity: str) -> str:
    """The severity as a coloured circle: ⚪ low, 🟡 medium, 🟠 high, 🔴 critical."""
    return SEVERITY_STYLE.get(severity, SEVERITY_STYLE["low"])[1]


def when(ts: datetime | None, zone: tzinfo = UTC) -> str:
    """``2019-07-12 09:05 MSK (06:05 UTC)``; in UTC itself ``2019-07-12 06:05 UTC``;
    the UTC date is repeated when it is not the local one; ``undated`` for None."""
    if ts is None:
        return "undated"
    utc, local = ts.astimezone(UTC), ts.astimezone(zone)
    if local.utcoffset() == timedelta(0) and local.tzname() in ("UTC", "Z", None):
        return utc.strftime("%Y-%m-%d %H:%M UTC")
    shown = utc.strftime("%H:%M UTC" if utc.date() == local.date() else "%Y-%m-%d %H:%M UTC")
    return f"{local.strftime('%Y-%m-%d %H:%M')} {local.tzname() or ''} ({shown})"


def name(text: str) -> str:
    """An outlet's (or a term's) name, on one line and clipped."""
    return clip(one_line(text), NAME_MAX)


def outlet_count(alert: Alert) -> int:
    return len(alert.outlets) if alert.outlets else 1 + len(alert.duplicates)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def facts(alert: Alert, zone: tzinfo = UTC) -> str:
    """``Reuters · 2019-07-12 09:05 MSK (06:05 UTC) · HIGH · rules: s400, f35``"""
    parts = [clip(one_line(alert.source), 100), when(alert.published, zone),
             alert.severity.upper(), "rules: " + name(", ".join(alert.rules))]  # fmt: skip
    return " · ".join(parts)


def status(alert: Alert, zone: tzinfo = UTC) -> str:
    """``3 outlets · latest: TASS, 2019-07-12 09:10 MSK (06:10 UTC)``: the line an
    edit keeps current (the latest member is the last to join, if any joined)."""
    line = plural(outlet_count(alert), "outlet")
    if len(alert.members) > 1:
        last = alert.members[-1]
        line += f" · latest: {name(last.source)}, {when(last.published or alert.updated, zone)}"
    return line


def outlets(alert: Alert) -> str:
    """``Outlets: Wire, AP, TASS`` (the first OUTLETS_MAX, then how many more)."""
    names = list(alert.outlets) or [alert.source, *alert.duplicates]
    shown = ", ".join(name(n) for n in names[:OUTLETS_MAX])
    more = f" and {len(names) - OUTLETS_MAX} more" if len(names) > OUTLETS_MAX else ""
    return f"Outlets: {shown}{more}"


def member(m: StoryMember, zone: tzinfo = UTC) -> str:
    """``AP · 2019-07-12 06:10 UTC · rewrite · S-400 deal signed``"""
    how = {"copy": "copy", "event": "rewrite"}.get(m.tier, "first")
    return f"{name(m.source)} · {when(m.published, zone)} · {how} · {clip(one_line(m.title), 200)}"


def members(alert: Alert, zone: tzinfo = UTC) -> list[str]:
    """One line per member (the first MEMBERS_MAX), then how many more."""
    lines = [member(m, zone) for m in alert.members[:MEMBERS_MAX]]
    if len(alert.members) > MEMBERS_MAX:
        lines.append(f"and {len(alert.members) - MEMBERS_MAX} more")
    return lines


def changes(alert: Alert) -> list[str]:
    """What is new in an update, one line each (the first CHANGES_MAX)."""
    lines = [clip(one_line(c), 200) for c in alert.changes[:CHANGES_MAX] if one_line(c)]
    if len(alert.changes) > CHANGES_MAX:
        lines.append(f"and {len(alert.changes) - CHANGES_MAX} more")
    return lines


def update_label(alert: Alert) -> str:
    """What a message about a story's change calls it: Spreading (an escalation) or Update."""
    return "Spreading" if alert.event == "escalated" else "Update"


def followup(alert: Alert) -> str:
    """``Update: S-400 deal signed: new rule: sanctions; new outlet: TASS (4 outlets)``"""
    told = "; ".join(changes(alert)) or "more coverage"
    count = plural(outlet_count(alert), "outlet")
    return f"{update_label(alert)}: {title(alert)}: {told} ({count})"


def evidence(alert: Alert) -> list[str]:
    """One line per matched term: ``S-400 (title): “S-400”``."""
    lines = []
    for term, found in alert.matched[:EVIDENCE_MAX]:
        where = ", ".join(dict.fromkeys(name(e.field) for e in found))
        texts = ", ".join(dict.fromkeys(name(e.text) for e in found))
        lines.append(f"{name(term)} ({where}): “{texts}”")
    if len(alert.matched) > EVIDENCE_MAX:
        lines.append(f"and {len(alert.matched) - EVIDENCE_MAX} more terms")
    return lines


def also_in(alert: Alert) -> str:
    if not alert.duplicates:
        return ""
    names = ", ".join(name(d) for d in alert.duplicates[:10])
    more = f" and {len(alert.duplicates) - 10} more" if len(alert.duplicates) > 10 else ""
    return f"Also in: {names}{more}"


def headline(alerts: Sequence[Alert]) -> str:
    """One line for a subject or a notification: the alert, or the digest's size."""
    if len(alerts) == 1:
        a = alerts[0]
        return f"[{a.severity.upper()}] {title(a)}"
    top = max(alerts, key=lambda a: rank(a.severity))
    return f"{len(alerts)} alerts, top [{top.severity.upper()}] {title(top)}"


def text(alerts: Sequence[Alert], zone: tzinfo = UTC) -> str:
    """The plain-text body of one alert or a digest: for an update (a follow-up,
    an escalation) what is new first, then the story as it stands."""
    blocks = []
    for a in alerts:
        lines = [f"[{a.severity.upper()}] {title(a)}", facts(a, zone)]
        if a.mode == "followup" or a.event == "escalated":
            lines[0] = f"{update_label(a)}: {lines[0]}"
            lines += [f"  new: {line}" for line in changes(a)]
        lines.append(safe_link(a.link) or "(no link)")
        lines += [status(a, zone), outlets(a)]
        lines += [f"  {line}" for line in evidence(a)]
        if len(a.members) > 1:
            lines += ["Members:", *(f"  {line}" for line in members(a, zone))]
        if s := summary(a):
            lines.append(s)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0
