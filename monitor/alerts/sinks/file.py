"""The file sink: one JSON object per line per alert it is given (ARCHITECTURE.md's
format): a story's creation, each update (``event``: ``story.created``,
``story.updated``, ``story.escalated``; ``mode`` and ``changes`` say how and what).
A ``created`` line keeps every field of newsmon's first format. No edits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from monitor.config import ReceiverConfig, ReceiverSchema, reveal
from monitor.errors import DeliveryError
from monitor.model import Alert

SCHEMA = ReceiverSchema(required=frozenset({"path"}), optional=frozenset())


class FileSink:
    edits = False  # see Sink
    max_batch: int | None = None

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> FileSink:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise DeliveryError("other", f"cannot open {self.path}: {exc}", retryable=True) from exc
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    async def send(self, alerts: Sequence[Alert]) -> None:
        line = "".join(json.dumps(a.to_dict(), ensure_ascii=False) + "\n" for a in alerts)
        async with self._lock:
            if self._file is None:
                raise DeliveryError("other", "sink not open", retryable=True)
            try:
                self._file.write(line)
                self._file.flush()
            except OSError as exc:
                raise DeliveryError("other", f"I/O error: {exc}", retryable=True) from exc


def build(receiver: ReceiverConfig, base_dir: Path) -> FileSink:
    path = Path(reveal(receiver.options["path"]))
    return FileSink(path if path.is_absolute() else base_dir / path)
