"""Pages: Jinja2 templates (package data), autoescaped, so feed text is always text.

Feed-supplied strings reach a template only as values (never as markup: nothing is
marked safe), and links only through :func:`href`, which lets an http(s) URL through
and nothing else (a ``javascript:`` link renders as plain text).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jinja2
from aiohttp import web

from monitor.alerts.render import safe_link
from monitor.model import SEVERITIES
from monitor.web.security import CSRF, SIGNED_IN

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("monitor.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
NAV = (("stories", "Stories"), ("feeds", "Feeds"), ("alerts", "Alerts"), ("rules", "Rules"),
       ("silences", "Silences"))  # fmt: skip


def shown_time(text: str | None) -> str:
    """ISO 8601 UTC as ``2026-05-01 12:03:04 UTC``; ``-`` for none."""
    if not text:
        return "-"
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return text


def shown_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value >= size and value % size == 0:
            return f"{int(value // size)}{unit}"
    return f"{value:g}s"


def severity(value: str) -> str:
    """A severity as a CSS class name: one of the known ones, else ``unknown``."""
    return value if value in SEVERITIES else "unknown"


ENV.filters.update(when=shown_time, seconds=shown_seconds, href=safe_link, sev=severity)


def page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    context = {"notice": None, "error": None, **context}
    html = ENV.get_template(template).render(
        nav=NAV, csrf=request.get(CSRF, ""), signed_in=request.get(SIGNED_IN, False),
        path=request.path, **context,
    )  # fmt: skip
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
