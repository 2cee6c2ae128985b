"""What an alert says, as plain text (pure). Each sink escapes for its own format.

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
from urllib.parse import urlsplit

from monitor.model import SEVERITIES, Alert, iso

TRUNCATED = "… [truncated]"
TITLE_MAX = 300
SUMMARY_MAX = 600
EVIDENCE_MAX = 5
LINK_MAX = 2000  # characters: longer links are dropped, not clipped
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


def facts(alert: Alert) -> str:
    """``Reuters · 2019-07-12T06:05:00Z · HIGH · rules: s400, f35 · 3 outlets``"""
    outlets = 1 + len(alert.duplicates)
    parts = [
        clip(one_line(alert.source), 100),
        iso(alert.published) or "undated",
        alert.severity.upper(),
        "rules: " + ", ".join(alert.rules),
        f"{outlets} outlet{'s' if outlets != 1 else ''}",
    ]
    return " · ".join(parts)


def evidence(alert: Alert) -> list[str]:
    """One line per matched term: ``S-400 (title): “S-400”``."""
    lines = []
    for term, found in alert.matched[:EVIDENCE_MAX]:
        where = ", ".join(dict.fromkeys(e.field for e in found))
        texts = ", ".join(dict.fromkeys(clip(one_line(e.text), 60) for e in found))
        lines.append(f"{clip(one_line(term), 60)} ({where}): “{texts}”")
    if len(alert.matched) > EVIDENCE_MAX:
        lines.append(f"and {len(alert.matched) - EVIDENCE_MAX} more terms")
    return lines


def also_in(alert: Alert) -> str:
    if not alert.duplicates:
        return ""
    names = ", ".join(clip(one_line(d), 60) for d in alert.duplicates[:10])
    more = f" and {len(alert.duplicates) - 10} more" if len(alert.duplicates) > 10 else ""
    return f"Also in: {names}{more}"


def headline(alerts: Sequence[Alert]) -> str:
    """One line for a subject or a notification: the alert, or the digest's size."""
    if len(alerts) == 1:
        a = alerts[0]
        return f"[{a.severity.upper()}] {title(a)}"
    top = max(alerts, key=lambda a: _rank(a.severity))
    return f"{len(alerts)} alerts, top [{top.severity.upper()}] {title(top)}"


def text(alerts: Sequence[Alert]) -> str:
    """The plain-text body of one alert or a digest."""
    blocks = []
    for a in alerts:
        lines = [title(a), facts(a)]
        lines.append(safe_link(a.link) or "(no link)")
        lines += [f"  {line}" for line in evidence(a)]
        if other := also_in(a):
            lines.append(other)
        if s := summary(a):
            lines.append(s)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0
