"""Real local stand-ins for receivers: an HTTP hook (Slack / webhook), Slack's Web
API and SMTP.

    async with HookServer() as hook:
        hook.script("/slack", (429, {"Retry-After": "2"}), (429, {"Retry-After": "2"}), 200)
        ...
        hook.received("/slack")      # every request: path, headers, body bytes, time, status

An answer is a status, ``(status, headers)`` or ``"hang"``; once a path's script
is used up it answers ``default`` (200). ``SmtpServer`` is aiosmtpd on
127.0.0.1, optionally offering STARTTLS with a self-signed certificate made by
``self_signed_cert`` (the openssl CLI) that the client trusts as its CA file.

``SlackApi`` answers ``chat.postMessage`` and ``chat.update`` as Slack does: it
checks the bearer token, validates every block with slack_sdk's Block Kit models
(a block they do not read back unchanged is ``invalid_blocks``), keeps each
message with its versions and its thread replies, and answers what a test
scripts first (``(429, {"Retry-After": "2"})``, or an error code such as
``"channel_not_found"``)::

    async with SlackApi() as slack:
        slack.script("chat.update", (429, {"Retry-After": "1"}))
        ...
        (parent,) = slack.parents(); slack.replies(parent.ts)
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from slack_sdk.models.blocks import Block
from support.net import free_port

Answer = int | tuple[int, dict[str, str]] | str


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()
    status: int = 0


class HookServer:
    def __init__(self, default: Answer = 200) -> None:
        self.requests: list[Request] = []
        self.default = default
        self._scripts: dict[str, deque[Answer]] = {}
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5,
                                     access_log=None)  # fmt: skip
        self.port = 0

    async def __aenter__(self) -> HookServer:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *answers: Answer) -> None:
        self._scripts[path] = deque(answers)

    def received(self, path: str, status: int | None = None) -> list[Request]:
        return [r for r in self.requests if r.path == path and status in (None, r.status)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        seen = Request(request.path, dict(request.headers), await request.read(), time.monotonic())
        self.requests.append(seen)
        queue = self._scripts.get(request.path)
        answer = queue.popleft() if queue else self.default
        if answer == "hang":
            await asyncio.sleep(3600)
        status, headers = answer if isinstance(answer, tuple) else (int(answer), {})
        seen.status = status
        return web.Response(status=status, headers=headers, text="ok" if status < 300 else "no")


SlackAnswer = str | tuple[int, dict[str, str]]


@dataclass
class SlackMessage:
    channel: str
    ts: str
    thread_ts: str | None
    versions: list[dict[str, Any]]  # what was posted, then each chat.update of it

    @property
    def now(self) -> dict[str, Any]:
        return self.versions[-1]


def block_problem(blocks: Any) -> str | None:
    """Why slack_sdk's Block Kit models refuse ``blocks``, or None."""
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return f"blocks: expected 1 to 50 blocks, got {blocks!r:.60}"
    for block in blocks:
        parsed = Block.parse(block)
        if parsed is None:
            return f"unknown block {block!r:.60}"
        try:
            if parsed.to_dict() != block:  # validates; an unknown field would not come back
                return f"block does not read back the same: {block!r:.80}"
        except Exception as exc:  # SlackObjectFormationError: a limit passed
            return f"{type(exc).__name__}: {exc}"
    return None


class SlackApi:
    """Slack's Web API on 127.0.0.1 (see the module's docstring)."""

    def __init__(self, token: str = "xoxb-test-token", channel: str = "C0DESK",
                 names: tuple[str, ...] = ("#desk", "desk")) -> None:  # fmt: skip
        self.token, self.channel, self.names = token, channel, names
        self.messages: dict[str, SlackMessage] = {}
        self.calls: list[tuple[str, dict[str, Any], int, dict[str, Any]]] = []  # method, body, ...
        self.problems: list[str] = []  # every payload refused, and why
        self._scripts: dict[str, deque[SlackAnswer]] = {}
        app = web.Application()
        app.router.add_post("/api/{method}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        self.port = 0

    async def __aenter__(self) -> SlackApi:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def script(self, method: str, *answers: SlackAnswer) -> None:
        self._scripts[method] = deque(answers)

    def parents(self) -> list[SlackMessage]:
        return [m for m in self.messages.values() if m.thread_ts is None]

    def replies(self, ts: str) -> list[SlackMessage]:
        return [m for m in self.messages.values() if m.thread_ts == ts]

    def made(self, method: str) -> list[dict[str, Any]]:
        """The bodies of the calls of ``method`` that Slack took."""
        return [body for m, body, status, answer in self.calls if m == method and answer["ok"]]

    async def _handle(self, request: web.Request) -> web.Response:
        method, body = request.match_info["method"], await request.json()
        status, headers, answer = self._answer(method, request.headers, body)
        self.calls.append((method, body, status, answer))
        return web.json_response(answer, status=status, headers=headers)

    def _answer(self, method: str, headers: Any, body: dict[str, Any],
                ) -> tuple[int, dict[str, str], dict[str, Any]]:  # fmt: skip
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        queue = self._scripts.get(method)
        if queue:
            scripted = queue.popleft()
            if isinstance(scripted, tuple):
                return scripted[0], scripted[1], {"ok": False, "error": "ratelimited"}
            return 200, {}, {"ok": False, "error": scripted}
        if (problem := block_problem(body.get("blocks"))) is not None:
            self.problems.append(problem)
            return 200, {}, {"ok": False, "error": "invalid_blocks"}
        if not isinstance(body.get("text"), str) or len(body["text"]) > 40000:
            return 200, {}, {"ok": False, "error": "no_text"}
        if method == "chat.postMessage":
            return 200, {}, self._post(body)
        if method == "chat.update":
            return 200, {}, self._update(body)
        return 404, {}, {"ok": False, "error": "unknown_method"}

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("channel") not in (self.channel, *self.names):
            return {"ok": False, "error": "channel_not_found"}
        thread_ts = body.get("thread_ts")
        if thread_ts is not None and thread_ts not in self.messages:
            return {"ok": False, "error": "thread_not_found"}
        ts = f"{1700000000 + len(self.messages)}.{len(self.messages):06d}"
        self.messages[ts] = SlackMessage(self.channel, ts, thread_ts, [body])
        return {"ok": True, "channel": self.channel, "ts": ts, "message": {"text": body["text"]}}

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.get(body.get("ts", ""))
        if body.get("channel") != self.channel or message is None:
            return {"ok": False, "error": "message_not_found"}
        message.versions.append(body)
        return {"ok": True, "channel": self.channel, "ts": message.ts, "text": body["text"]}


class Collect:
    """The SMTP handler: keeps each message; subclass it to script a server."""

    def __init__(self, sink: list[bytes], envelopes: list[tuple[str, list[str]]]) -> None:
        self.sink = sink
        self.envelopes = envelopes

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sink.append(bytes(envelope.original_content or envelope.content))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


_Collect = Collect


class SmtpServer:
    """aiosmtpd on 127.0.0.1:``port``; ``tls`` (cert, key) offers STARTTLS;
    ``handler`` a :class:`Collect` subclass that scripts the server's answers."""

    def __init__(self, port: int | None = None, tls: tuple[Path, Path] | None = None,
                 handler: type[Collect] = Collect) -> None:  # fmt: skip
        self.port = port or free_port()
        self.messages: list[bytes] = []  # the bytes of each message as received
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, RCPT TO) of each
        context = None
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
        self.handler = handler(self.messages, self.envelopes)
        self._controller = Controller(self.handler, hostname="127.0.0.1",
                                      port=self.port, tls_context=context)  # fmt: skip

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and localhost), and its key, by the openssl CLI."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-addext", "basicConstraints=critical,CA:TRUE"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key
