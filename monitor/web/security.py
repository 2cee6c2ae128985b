"""Safe by default: who may use the UI and API, CSRF, and the headers on every response.

* **Where.** On a loopback address without a token (the default) only this machine
  reaches the server, and only under a loopback ``Host`` (a DNS-rebinding page, whose
  host name merely points at 127.0.0.1, is refused). With ``http.auth_token`` (required
  off loopback) the API takes ``Authorization: Bearer TOKEN`` and the UI a login form
  that sets a session cookie (HttpOnly, SameSite=Strict, signed, 12 h); tokens are
  compared in constant time. ``/metrics``, ``/healthz`` and ``/readyz`` stay open to
  whoever reaches the port (Prometheus, probes): they show no feed text.
* **CSRF.** A POST or DELETE not made with the bearer token needs a same-origin
  ``Origin`` (when sent), and the session's CSRF token: a form field ``csrf`` for the
  pages, an ``X-CSRF-Token`` header for the API; without a session (curl on loopback)
  an API POST must be ``application/json``, which no cross-site form can send.
* **Headers.** Every response carries a strict Content-Security-Policy (no inline
  script or style, no framing), ``X-Content-Type-Options: nosniff``, and no referrer
  to other sites (an outlet never learns a story's address in the UI).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web
from yarl import URL

COOKIE = "newsmon_session"
SESSION_TTL = 12 * 3600
OPEN = frozenset({"/metrics", "/healthz", "/readyz"})  # never guarded: scrapes and probes
PUBLIC = ("/static/", "/login")  # reachable before a login
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
    " connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # no-referrer would make a form post say Origin: null
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
AUTH = web.RequestKey("auth", str)  # how the request got in: "bearer", "session" or ""
CSRF = web.RequestKey("csrf", str)  # the session's CSRF token, for the page's forms
SIGNED_IN = web.RequestKey("signed_in", bool)  # a login session (token mode)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Sessions:
    """Signed session cookies, nothing kept server-side: ``v1.NONCE.EXPIRES.MAC``. The
    key comes from the token (a new token ends every session) or, without one, is new
    each start."""

    def __init__(self, token: str | None, ttl: float = SESSION_TTL) -> None:
        self.ttl = ttl
        secret = token.encode() if token is not None else os.urandom(32)
        self._key = hmac.new(secret, b"newsmon web session v1", hashlib.sha256).digest()

    def _mac(self, text: str) -> str:
        return _b64(hmac.new(self._key, text.encode(), hashlib.sha256).digest())

    def new(self, now: float | None = None) -> tuple[str, str]:
        """A new session: (cookie value, its nonce)."""
        nonce = _b64(os.urandom(18))
        body = f"v1.{nonce}.{int((now or time.time()) + self.ttl)}"
        return f"{body}.{self._mac(body)}", nonce

    def nonce(self, cookie: str | None, now: float | None = None) -> str | None:
        """The session's nonce if ``cookie`` is one of ours and not expired."""
        parts = (cookie or "").split(".")
        if len(parts) != 4 or parts[0] != "v1" or not parts[2].isdigit():
            return None
        body = ".".join(parts[:3])
        if not _same(self._mac(body), parts[3]):
            return None
        return parts[1] if int(parts[2]) > (now or time.time()) else None

    def csrf(self, nonce: str) -> str:
        return self._mac(f"csrf.{nonce}")


class Guard:
    """The middlewares of the web UI and API (see the module docstring)."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.sessions = Sessions(token)

    @property
    def middlewares(self) -> list[Callable[..., Awaitable[web.StreamResponse]]]:
        return [headers, self.guard]

    def bearer(self, request: web.Request) -> bool | None:
        """True: a right bearer token; False: a wrong one; None: none given."""
        given = request.headers.get("Authorization")
        if given is None:
            return None
        scheme, _, value = given.partition(" ")
        if self.token is None or scheme.lower() != "bearer":
            return False
        return _same(value.strip(), self.token)

    def login(self, given: str) -> bool:
        return self.token is not None and _same(given, self.token)

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN:
            return await handler(request)
        api = request.path.startswith("/api/")
        if self.token is None and not _loopback_host(request.host):
            raise _refused(api, 403, "this server answers only under a loopback host name")
        bearer = self.bearer(request)
        if bearer is False:
            raise _refused(api, 401, "wrong or malformed Authorization: Bearer token")
        nonce = self.sessions.nonce(request.cookies.get(COOKIE))
        request[AUTH] = "bearer" if bearer else ("session" if nonce else "")
        request[SIGNED_IN] = self.token is not None and request[AUTH] == "session"
        public = request.path.startswith(PUBLIC)
        if self.token is not None and not request[AUTH] and not public:
            if api:
                raise _refused(api, 401, "needs Authorization: Bearer TOKEN")
            raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}")
        fresh = None
        if nonce is None and self.token is None and not api:  # a session for its CSRF token
            fresh, nonce = self.sessions.new()
        request[CSRF] = self.sessions.csrf(nonce) if nonce else ""
        if request.method not in SAFE_METHODS and not bearer:
            await self._check_csrf(request, api, nonce)
        response = await handler(request)
        if fresh is not None:
            set_cookie(request, response, fresh, self.sessions.ttl)
        return response

    async def _check_csrf(self, request: web.Request, api: bool, nonce: str | None) -> None:
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            raise _refused(api, 403, "cross-origin request refused")
        if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            raise _refused(api, 403, "cross-site request refused")
        if request.path == "/login":
            return  # no session yet: the origin checks above, and SameSite
        expected = self.sessions.csrf(nonce) if nonce else None
        if api:
            given = request.headers.get("X-CSRF-Token")
            if given is None and request.cookies.get(COOKIE) is None:
                # a client with no session (curl on loopback) has none to ride; a POST must
                # still be JSON, which no cross-site form can send (a DELETE, as any
                # non-simple request, cannot cross sites without CORS, which newsmon lacks)
                if request.method == "POST" and request.content_type != "application/json":
                    raise _refused(api, 415, "expected Content-Type: application/json")
                return
        else:
            given = str((await request.post()).get("csrf", ""))
        if expected is None or not given or not _same(given, expected):
            raise _refused(api, 403, "missing or stale CSRF token: reload the page")


def _same(given: str, expected: str) -> bool:
    """Constant-time equality (of the UTF-8 bytes: any text a client sends compares)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def set_cookie(request: web.Request, response: web.StreamResponse, value: str, ttl: float) -> None:
    response.set_cookie(COOKIE, value, max_age=int(ttl), path="/", httponly=True,
                        samesite="Strict", secure=request.secure)  # fmt: skip


@web.middleware
async def headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The security headers on every response, errors and redirects included."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _stamp(request, exc)
        raise
    _stamp(request, response)
    return response


def _stamp(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(HEADERS)
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


def _loopback_host(host: str | None) -> bool:
    try:
        name = URL(f"http://{host}").host or ""
    except ValueError:
        return False
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def _refused(api: bool, status: int, message: str) -> web.HTTPException:
    cls = {401: web.HTTPUnauthorized, 403: web.HTTPForbidden,
           415: web.HTTPUnsupportedMediaType}[status]  # fmt: skip
    extra = {"WWW-Authenticate": 'Bearer realm="newsmon"'} if status == 401 else {}
    if api:
        body = json.dumps({"error": cls.__name__[4:].lower(), "message": message})
        return cls(text=body, content_type="application/json", headers=extra)
    return cls(text=f"{status}: {message}\n", headers=extra)
