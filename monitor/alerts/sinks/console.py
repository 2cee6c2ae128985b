"""The console sink: a few readable lines per alert on standard output.

A post shows the story; a follow-up (``[UPDATE]``, or ``[SPREADING]`` for an
escalation) what is new and how far the story has spread. An edit is never
given (``edits = False``). Feed text is untrusted: control characters
(terminal escape sequences included) are replaced before printing.
``title_template`` (the first line) and ``body_template`` (the lines under it)
are the receiver's templates (text; defaults ``console.title.j2`` and
``console.body.j2``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import TextIO

from monitor.alerts import templates
from monitor.config import ReceiverConfig, ReceiverSchema
from monitor.model import Alert

SCHEMA = ReceiverSchema(required=frozenset(), optional=templates.OPTIONS)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def safe(text: str) -> str:
    return _CONTROL.sub(" ", text)


class ConsoleSink:
    edits = False  # see Sink
    max_batch: int | None = None

    def __init__(self, stream: TextIO | None = None, title: templates.Template | None = None,
                 body: templates.Template | None = None) -> None:  # fmt: skip
        self._stream = stream
        self.title = title or templates.default("console.title.j2", "text", templates.TITLE_MAX)
        self.body = body or templates.default("console.body.j2", "text")

    async def __aenter__(self) -> ConsoleSink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, alerts: Sequence[Alert]) -> None:
        stream = self._stream or sys.stdout
        for alert in alerts:
            if alert.mode not in ("post", "followup"):
                continue  # an edit: never given
            head = self.title.render([alert], UTC)
            stream.write(f"{safe(head)}\n{self.body.render([alert], UTC).rstrip()}\n")
        stream.flush()


def build(receiver: ReceiverConfig, base_dir: Path) -> ConsoleSink:
    title = templates.load(receiver, base_dir, "title_template", channel="text",
                           fallback="console.title.j2", limit=templates.TITLE_MAX)  # fmt: skip
    body = templates.load(receiver, base_dir, "body_template", channel="text",
                          fallback="console.body.j2")  # fmt: skip
    return ConsoleSink(title=title, body=body)
