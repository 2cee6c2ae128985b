"""What each channel does to a value a template prints (pure): its escaping, and its link.

Every ``{{ value }}`` of a template goes through its channel's *finalize* before it
is written, so no template (the defaults, or one a desk writes) can forget to
escape feed text:

* ``slack`` (mrkdwn): ``&`` ``<`` ``>`` become entities, as Slack asks, so
  ``<!channel>``, ``<@U123>`` or ``<https://evil|https://bank>`` arrive as text;
* ``html`` (mail): :func:`html.escape` with quotes;
* ``text`` (console, Apprise, Alertmanager annotations): nothing to escape.

In all three, control characters in a value (CR/LF, terminal escapes, bidi
overrides) become spaces: a value is one line; the template writes the line
breaks. What a channel's own helpers build (``link(url, label)``) is marked safe
(:class:`markupsafe.Markup`) and written as it is, with the label escaped inside.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from markupsafe import Markup

from monitor.alerts import render

CHANNELS = ("slack", "html", "text")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
LINK_STYLE = "color:#1a0dab;text-decoration:none;"


def mrkdwn(text: str) -> str:
    """Slack's escaping: ``&`` ``<`` ``>`` (and nothing else: Slack shows other
    entities as they are)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn_url(url: str | None) -> str | None:
    """An http(s) link as it may stand inside Slack's ``<url|label>``: ``|`` ``<``
    ``>`` and spaces percent-encoded, ``&`` escaped; None for any other link."""
    safe = render.safe_link(url)
    if safe is None:
        return None
    for char, code in (("|", "%7C"), ("<", "%3C"), (">", "%3E"), (" ", "%20")):
        safe = safe.replace(char, code)
    return safe.replace("&", "&amp;")


def one_line(value: Any) -> str:
    return _CONTROL.sub(" ", str(value))


def _escaped(escape: Callable[[str], str]) -> Callable[[Any], Any]:
    def finalize(value: Any) -> Any:
        if hasattr(value, "__html__"):  # Markup: a helper's (or |safe) output
            return value
        return Markup(escape(one_line(value)))

    return finalize


FINALIZE: dict[str, Callable[[Any], Any]] = {
    "slack": _escaped(mrkdwn),
    "html": _escaped(lambda text: html.escape(text, quote=True)),
    "text": one_line,
}


def _slack_link(url: str | None, label: object) -> Markup:
    text = label if hasattr(label, "__html__") else Markup(mrkdwn(one_line(label)))
    safe = mrkdwn_url(url)
    return Markup(f"<{safe}|{text}>") if safe else Markup(text)


def _html_link(url: str | None, label: object, style: str = LINK_STYLE) -> Markup:
    text = label if hasattr(label, "__html__") else Markup(html.escape(one_line(label)))
    safe = render.safe_link(url)
    if safe is None:
        return Markup(text)
    return Markup(f'<a href="{html.escape(safe)}" style="{html.escape(style)}">{text}</a>')


def _text_link(url: str | None, label: object = "") -> str:
    safe = render.safe_link(url) or "(no link)"
    return f"{one_line(label)} <{safe}>" if label else safe


LINKS: dict[str, Callable[..., Any]] = {"slack": _slack_link, "html": _html_link,
                                        "text": _text_link}  # fmt: skip
