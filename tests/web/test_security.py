"""Safe by default, on a real socket: who gets in, CSRF, and the headers.

Loopback without a token: anyone on this machine, under a loopback Host only (a
DNS-rebinding page is refused); a form needs its session's CSRF token and a
same-origin Origin; an API call without a session must be JSON. With a token: the
API takes the bearer token, the UI a login that sets an HttpOnly SameSite=Strict
cookie; /metrics /healthz /readyz stay open. Every response has the strict CSP.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import aiohttp
import pytest
from webapp import item, web_app

from monitor.web.security import COOKIE, CSP, Sessions

TOKEN = "s3cret-token-for-the-desk-0123"
SILENCE = {"matchers": ["rule=rule0"], "author": "ana", "comment": "test"}


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # IP hosts too


async def csrf_of(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as resp:
        assert resp.status == 200
        found = re.search(r'name="csrf" value="([^"]+)"', await resp.text())
    assert found is not None
    return found[1]


async def test_loopback_without_a_token_lets_this_machine_in_under_a_loopback_host(
    tmp_path: Path,
) -> None:
    async with web_app(tmp_path, [item(0, "S-400 arrives")]) as base, client() as s:
        async with s.get(base + "/stories") as resp:
            assert resp.status == 200
            cookie = resp.cookies[COOKIE]
            assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
        async with s.get(base + "/api/stories") as resp:
            assert resp.status == 200 and (await resp.json())["total"] == 1
        for host in ("evil.example", "evil.example:80", "10.0.0.1"):  # DNS rebinding
            async with s.get(base + "/api/stories", headers={"Host": host}) as resp:
                assert resp.status == 403, host
        for host in ("localhost", "127.0.0.1", "[::1]:9464"):
            async with s.get(base + "/stories", headers={"Host": host}) as resp:
                assert resp.status == 200, host


async def test_forms_need_the_sessions_csrf_token_and_their_own_origin(tmp_path: Path) -> None:
    async with web_app(tmp_path, [item(0, "S-400 arrives")]) as base, client() as s:
        token = await csrf_of(s, base + "/silences")
        form = {"matchers": "rule=rule0", "duration": "1h", "author": "ana", "comment": "x"}
        async with s.post(base + "/silences", data=form, allow_redirects=False) as resp:
            assert resp.status == 403  # no CSRF token
        for forged in ("forged", "é" * 43):
            async with s.post(base + "/silences", data={**form, "csrf": forged}) as resp:
                assert resp.status == 403
        for hostile in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                        {"Sec-Fetch-Site": "cross-site"}):  # fmt: skip
            async with s.post(base + "/silences", data={**form, "csrf": token},
                              headers=hostile, allow_redirects=False) as resp:  # fmt: skip
                assert resp.status == 403, hostile
        async with s.post(base + "/silences", data={**form, "csrf": token},
                          headers={"Origin": base}, allow_redirects=False) as resp:  # fmt: skip
            assert resp.status == 303 and resp.headers["Location"].startswith("/silences?done=")
        async with (
            client() as other,  # another browser's token is not this one's
            other.post(base + "/silences", data={**form, "csrf": token}) as resp,
        ):
            assert resp.status == 403


async def test_api_posts_from_a_browser_need_the_csrf_header_and_others_json(
    tmp_path: Path,
) -> None:
    async with web_app(tmp_path) as base:
        async with aiohttp.ClientSession() as curl:  # no cookie: a script on this machine
            async with curl.post(base + "/api/silences", json=SILENCE) as resp:
                assert resp.status == 201
            async with curl.post(base + "/api/silences", data="{}",
                                 headers={"Content-Type": "text/plain"}) as resp:  # fmt: skip
                assert resp.status == 415  # what a cross-site "simple" request could send
        async with client() as browser:
            token = await csrf_of(browser, base + "/silences")
            async with browser.post(base + "/api/silences", json=SILENCE) as resp:
                assert resp.status == 403  # a session rides along: its CSRF token is needed
            async with browser.post(base + "/api/silences", json=SILENCE,
                                    headers={"X-CSRF-Token": token}) as resp:  # fmt: skip
                assert resp.status == 201


async def test_with_a_token_the_api_needs_the_bearer_and_the_ui_a_login(tmp_path: Path) -> None:
    async with web_app(tmp_path, [item(0, "S-400 arrives")], token=TOKEN) as base, client() as s:
        async with s.get(base + "/api/stories") as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            assert (await resp.json())["error"] == "unauthorized"
        for wrong in ("Bearer nope", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer", "Bearer é"):
            async with s.get(base + "/api/stories", headers={"Authorization": wrong}) as resp:
                assert resp.status == 401, wrong
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        async with s.get(base + "/api/stories", headers=bearer) as resp:
            assert resp.status == 200
        async with s.post(base + "/api/silences", json=SILENCE, headers=bearer) as resp:
            assert resp.status == 201  # a bearer call needs no CSRF token
        for path in ("/metrics", "/healthz", "/readyz"):
            async with s.get(base + path) as resp:
                assert resp.status == 200, path
        async with s.get(base + "/stories?rule=rule0", allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"].startswith("/login?next=")
            login = resp.headers["Location"]
        async with s.get(base + login) as resp:
            assert 'name="next" value="/stories?rule=rule0"' in await resp.text()
        form = {"token": "guess", "next": "/stories?rule=rule0"}
        async with s.post(base + "/login", data=form, allow_redirects=False) as resp:
            assert resp.status == 401 and COOKIE not in resp.cookies
        form["token"] = TOKEN
        async with s.post(base + "/login", data=form, allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/stories?rule=rule0"
            cookie = resp.cookies[COOKIE]
            assert cookie["httponly"] and cookie["samesite"] == "Strict"
        async with s.get(base + "/stories") as resp:
            assert resp.status == 200 and "S-400 arrives" in await resp.text()
        async with s.get(base + "/api/stories") as resp:
            assert resp.status == 200  # the UI's own script reads the API with the cookie


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil", ""])
async def test_a_login_never_sends_anyone_off_site(tmp_path: Path, target: str) -> None:
    async with web_app(tmp_path, token=TOKEN) as base, client() as s:
        form = {"token": TOKEN, "next": target}
        async with s.post(base + "/login", data=form, allow_redirects=False) as resp:
            assert resp.headers["Location"] == "/stories"


async def test_a_forged_or_expired_session_is_no_session(tmp_path: Path) -> None:
    sessions = Sessions(TOKEN, ttl=60)
    cookie, nonce = sessions.new(now=1000.0)
    assert sessions.nonce(cookie, now=1030.0) == nonce
    assert sessions.nonce(cookie, now=1061.0) is None  # expired
    body, mac = cookie.rsplit(".", 1)
    later = body.rsplit(".", 1)[0] + ".9999999999"
    assert sessions.nonce(f"{later}.{mac}", now=1030.0) is None  # expiry moved: bad MAC
    assert Sessions("another-token-0123456789").nonce(cookie, now=1030.0) is None
    async with web_app(tmp_path, token=TOKEN) as base, client() as s:
        live, _ = Sessions(TOKEN).new()
        stale, _ = Sessions(TOKEN).new(now=time.time() - 13 * 3600)
        for value, status in ((live, 200), (stale, 303), (live[:-2] + "xx", 303)):
            s.cookie_jar.clear()
            s.cookie_jar.update_cookies({COOKIE: value})
            async with s.get(base + "/stories", allow_redirects=False) as resp:
                assert resp.status == status


async def test_every_answer_carries_the_strict_headers(tmp_path: Path) -> None:
    async with web_app(tmp_path, [item(0, "S-400 arrives")], token=TOKEN) as base, client() as s:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        asked = [("/stories", {}), ("/login", {}), ("/api/stories", {}), ("/api/stories", bearer),
                 ("/nowhere", bearer), ("/metrics", {}), ("/static/newsmon.css", bearer),
                 ("/static/live.js", bearer)]  # fmt: skip
        for path, headers in asked:
            async with s.get(base + path, headers=headers, allow_redirects=False) as resp:
                assert resp.headers["Content-Security-Policy"] == CSP, path
                assert resp.headers["X-Content-Type-Options"] == "nosniff"
                assert resp.headers["X-Frame-Options"] == "DENY"
                assert "unsafe" not in resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in CSP and "frame-ancestors 'none'" in CSP


async def test_a_script_on_this_machine_may_delete_without_a_body_but_posts_json(
    tmp_path: Path,
) -> None:
    async with web_app(tmp_path) as base, aiohttp.ClientSession() as curl:
        async with curl.post(base + "/api/silences", json=SILENCE) as resp:
            made = await resp.json()
        async with curl.delete(f"{base}/api/silences/{made['silence_id']}") as resp:
            assert resp.status == 200 and (await resp.json())["state"] == "expired"
        async with curl.post(base + "/api/alerts/x/retry") as resp:
            assert resp.status == 415  # a form-like POST: what another site could make
        async with curl.post(base + "/api/alerts/x/retry", json={}) as resp:
            assert resp.status == 404
        async with curl.post(base + "/api/rules/test", data=b"{" * (300 * 1024),
                             headers={"Content-Type": "application/json"}) as resp:  # fmt: skip
            assert resp.status == 413
