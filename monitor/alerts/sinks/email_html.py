"""The HTML part of an alert mail (pure), made to read well in Gmail and Outlook.

Mail clients drop or ignore ``<style>`` blocks and most CSS, so the layout is
tables with inline styles only (``bgcolor`` beside ``background-color`` for
Outlook's Word engine), a fixed 640-pixel column, web-safe fonts. Each alert is
a card: a band in its severity's colour (with the word, for those who cannot
tell the colours apart), the headline linked, the facts with times in the
receiver's zone and UTC beside, what is new (a follow-up, an escalation), the
status line, the evidence, the outlets and the members. Every piece of feed text
is escaped (``html.escape``); only http(s) links become ``href``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import tzinfo

from monitor.alerts import render
from monitor.model import Alert, StoryMember

FONT = "font-family:Arial,Helvetica,sans-serif;"
MUTED = "color:#5f6368;font-size:13px;line-height:18px;"
DARK_TEXT = {"medium"}  # bands light enough to want dark text


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def _a(url: str | None, label: str, style: str = "color:#1a0dab;text-decoration:none;") -> str:
    safe = render.safe_link(url)
    return f'<a href="{esc(safe)}" style="{style}">{esc(label)}</a>' if safe else esc(label)


def _band(alert: Alert) -> str:
    bg = render.colour(alert.severity)
    fg = "#202124" if alert.severity in DARK_TEXT else "#ffffff"
    word = alert.severity.upper()
    if alert.mode == "followup" or alert.event == "escalated":
        word += f" · {render.update_label(alert).upper()}"
    return (
        f'<tr><td bgcolor="{bg}" style="background-color:{bg};color:{fg};padding:6px 16px;'
        f'{FONT}font-size:12px;font-weight:bold;letter-spacing:1px;">{esc(word)}</td></tr>'
    )


def _para(text: str, style: str = MUTED) -> str:
    return f'<p style="margin:0 0 8px 0;{FONT}{style}">{text}</p>'


def _list(lines: Sequence[str], title: str) -> str:
    if not lines:
        return ""
    items = "".join(f'<li style="margin:0 0 4px 0;">{line}</li>' for line in lines)
    return (
        _para(f"<b>{esc(title)}</b>", "color:#202124;font-size:13px;")
        + f'<ul style="margin:0 0 10px 0;padding:0 0 0 20px;{FONT}{MUTED}">{items}</ul>'
    )


def _member(m: StoryMember, zone: tzinfo) -> str:
    how = {"copy": "copy", "event": "rewrite"}.get(m.tier, "first")
    head = _a(m.link, render.clip(render.one_line(m.title) or "(untitled)", 200))
    return f"{esc(render.name(m.source))} · {esc(render.when(m.published, zone))} · {how}: {head}"


def _news(alert: Alert) -> str:
    """What is new, in a tinted box, for a follow-up or an escalation."""
    if not (alert.mode == "followup" or alert.event == "escalated"):
        return ""
    lines = render.changes(alert) or ["more coverage"]
    items = "<br>".join(f"&bull; {esc(line)}" for line in lines)
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'
        '<tr><td bgcolor="#fef7e0" style="background-color:#fef7e0;padding:8px 12px;'
        f'{FONT}font-size:14px;line-height:20px;color:#202124;"><b>New</b><br>{items}</td></tr>'
        '</table><div style="height:8px;line-height:8px;">&nbsp;</div>'
    )


def card(alert: Alert, zone: tzinfo) -> str:
    head = _a(alert.link, render.title(alert), "color:#1a0dab;text-decoration:none;")
    members = [_member(m, zone) for m in alert.members[: render.MEMBERS_MAX]]
    if len(alert.members) > render.MEMBERS_MAX:
        members.append(esc(f"and {len(alert.members) - render.MEMBERS_MAX} more"))
    summary = _para(esc(s), "color:#3c4043;font-size:14px;") if (s := render.summary(alert)) else ""
    body = (
        f'<h2 style="margin:0 0 6px 0;{FONT}font-size:18px;line-height:24px;">{head}</h2>'
        + _para(esc(render.facts(alert, zone)))
        + _news(alert)
        + _para(f"<b>{esc(render.status(alert, zone))}</b>", "color:#202124;font-size:13px;")
        + _list([esc(line) for line in render.evidence(alert)], "Matched")
        + _para(esc(render.outlets(alert)))
        + (_list(members, "Members") if len(alert.members) > 1 else "")
        + summary
    )
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'style="border-collapse:collapse;margin:0 0 16px 0;">'
        + _band(alert)
        + '<tr><td bgcolor="#ffffff" style="background-color:#ffffff;padding:12px 16px;'
        f'border:1px solid #dadce0;border-top:0;">{body}</td></tr></table>'
    )


def body(alerts: Sequence[Alert], zone: tzinfo, heading: str = "") -> str:
    """The whole HTML document: an optional heading (a digest's), then each alert."""
    top = _para(f"<b>{esc(heading)}</b>", "color:#202124;font-size:15px;") if heading else ""
    cards = "".join(card(a, zone) for a in alerts)
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        '<body style="margin:0;padding:0;background-color:#f1f3f4;">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'bgcolor="#f1f3f4" style="background-color:#f1f3f4;"><tr><td align="center" '
        'style="padding:16px 8px;"><table role="presentation" width="640" cellpadding="0" '
        'cellspacing="0" border="0" style="width:100%;max-width:640px;"><tr><td align="left">'
        f"{top}{cards}"
        + _para("Sent by newsmon.", "color:#80868b;font-size:11px;")
        + "</td></tr></table></td></tr></table></body></html>"
    )
