"""The webhook sink: a JSON POST of the alerts, optionally signed.

Body: ``{"version": 1, "receiver": ..., "alerts": [<the file sink's object>, ...]}``.
Each alert says what happened to its story (``event``: ``story.created``,
``story.updated`` for a follow-up, ``story.escalated``), carries the story's
``members``, ``outlets`` and ``changes``, and ``version`` (one more per change),
so a receiver can keep its own copy of the story current. No edits
(``edits = False``); a digest is one body (no bound).
With ``secret``, the header ``X-Newsmon-Signature: sha256=<hex>`` carries the
HMAC-SHA256 of the exact body bytes under the secret, so the receiver can check
the body came from newsmon untouched. Neither the URL nor the secret is ever
logged, and errors never carry them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from pathlib import Path

from monitor.alerts.sinks.base import HttpSink
from monitor.config import ReceiverConfig, ReceiverSchema, reveal
from monitor.model import Alert

SCHEMA = ReceiverSchema(required=frozenset({"url"}), optional=frozenset({"secret"}))
SIGNATURE_HEADER = "X-Newsmon-Signature"


def body(receiver: str, alerts: Sequence[Alert]) -> bytes:
    doc = {"version": 1, "receiver": receiver, "alerts": [a.to_dict() for a in alerts]}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, data: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


class WebhookSink(HttpSink):
    def __init__(self, name: str, url: str, secret: str | None = None) -> None:
        super().__init__()
        self._name, self._url, self._secret = name, url, secret

    def __repr__(self) -> str:
        return f"WebhookSink(name={self._name!r}, url='***')"

    async def send(self, alerts: Sequence[Alert]) -> None:
        data = body(self._name, alerts)
        headers = {"Content-Type": "application/json", "User-Agent": "newsmon"}
        if self._secret:
            headers[SIGNATURE_HEADER] = signature(self._secret, data)
        await self.post(self._url, data, headers)


def build(receiver: ReceiverConfig, base_dir: Path) -> WebhookSink:
    secret = receiver.options.get("secret")
    return WebhookSink(
        receiver.name, reveal(receiver.options["url"]), reveal(secret) if secret else None
    )
