"""The console sink: a few readable lines per alert on standard output.

A post shows the story; a follow-up (``[UPDATE]``, or ``[SPREADING]`` for an
escalation) what is new and how far the story has spread. An edit is never
given (``edits = False``). Feed text is untrusted: control characters
(terminal escape sequences included) are replaced before printing.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from monitor.alerts import render
from monitor.config import ReceiverConfig, ReceiverSchema
from monitor.model import Alert, iso

SCHEMA = ReceiverSchema(required=frozenset(), optional=frozenset())
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def safe(text: str) -> str:
    return _CONTROL.sub(" ", text)


class ConsoleSink:
    edits = False  # see Sink
    max_batch: int | None = None

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def __aenter__(self) -> ConsoleSink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, alerts: Sequence[Alert]) -> None:
        stream = self._stream or sys.stdout
        for alert in alerts:
            if alert.mode == "followup":
                stream.write(_update(alert))
                continue
            if alert.mode != "post":
                continue
            if alert.event == "escalated":
                stream.write(f"[{render.update_label(alert).upper()}] ")
            terms = ", ".join(term for term, _ in alert.matched)
            also = f" | also in: {safe(', '.join(alert.duplicates))}" if alert.duplicates else ""
            stream.write(
                f"[{alert.severity.upper()}] {safe(alert.title)}\n"
                f"    {safe(alert.source)} | {iso(alert.published) or 'undated'} | "
                f"rules: {', '.join(alert.rules)} | terms: {safe(terms)}{also}\n"
                f"    {safe(alert.link or '(no link)')}\n"
            )
        stream.flush()


def _update(alert: Alert) -> str:
    told = "; ".join(render.changes(alert)) or "more coverage"
    return (
        f"[{render.update_label(alert).upper()}] [{alert.severity.upper()}] {safe(alert.title)}\n"
        f"    new: {told} | {render.status(alert)} | {render.outlets(alert)}\n"
        f"    {safe(alert.link or '(no link)')}\n"
    )


def build(receiver: ReceiverConfig, base_dir: Path) -> ConsoleSink:
    return ConsoleSink()
