"""Real local stand-ins for receivers: an HTTP hook (Slack / webhook) and SMTP.

    async with HookServer() as hook:
        hook.script("/slack", (429, {"Retry-After": "2"}), (429, {"Retry-After": "2"}), 200)
        ...
        hook.received("/slack")      # every request: path, headers, body bytes, time, status

An answer is a status, ``(status, headers)`` or ``"hang"``; once a path's script
is used up it answers ``default`` (200). ``SmtpServer`` is aiosmtpd on
127.0.0.1, optionally offering STARTTLS with a self-signed certificate made by
``self_signed_cert`` (the openssl CLI) that the client trusts as its CA file.
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
