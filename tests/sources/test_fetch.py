"""monitor.sources.fetch against a real local aiohttp server, and the pure SSRF policy.

Two listeners on 127.0.0.1: ``server`` is the feed server, allowed by the allowlist
on its exact port; ``private`` stands for an internal service: it is not allowed,
and records every request so a test can prove no byte reached it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from aiohttp import web
from feedserver import (
    FeedServer,
    bad_gzip,
    drip,
    endless,
    feed,
    gzip_bomb,
    hang,
    redirect,
    status,
)
from rss import peak_rss_bytes, reset_peak_rss
from yarl import URL

from monitor.addresses import Allowed, is_allowed, is_public, parse_allowlist
from monitor.config import FetchConfig, MiB, Secret, redact_urls
from monitor.errors import BlockedAddress, FetchError
from monitor.sources.fetch import (
    ACCEPT,
    Fetcher,
    NotStarted,
    _redirect_target,
)

TIMEOUT = 2.0
PROMPT = TIMEOUT + 3.0  # generous upper bound on any one failing fetch
RSS = b"<rss version='2.0'><channel><title>t</title></channel></rss>"
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as srv:
        yield srv


@pytest.fixture
async def private() -> AsyncIterator[FeedServer]:
    async with FeedServer() as srv:
        srv.add("/", feed(b"secret"))
        yield srv


def config_for(server: FeedServer, **overrides: object) -> FetchConfig:
    config = FetchConfig(
        timeout=TIMEOUT,
        connect_timeout=1.0,
        max_bytes=1 * MiB,
        allow_networks=(f"127.0.0.1:{server.port}",),
        user_agent="newsmon-test/1",
    )
    return replace(config, **overrides)  # type: ignore[arg-type]


@pytest.fixture
async def fetcher(server: FeedServer) -> AsyncIterator[Fetcher]:
    async with Fetcher(config_for(server)) as f:
        yield f


async def fails(fetcher: Fetcher, url: str, reason: str, within: float = PROMPT) -> FetchError:
    """Fetch ``url``, expect FetchError(reason), promptly; return the error."""
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        await fetcher.fetch(url)
    assert info.value.reason == reason, info.value
    assert time.monotonic() - started < within
    return info.value


# -- success, validators, headers ---------------------------------------------------


async def test_200_returns_body_validators_and_sends_feed_headers(
    server: FeedServer, fetcher: Fetcher
) -> None:
    url = server.add("/feed", feed(RSS, etag='"v1"', last_modified=LAST_MODIFIED))
    result = await fetcher.fetch(url)
    assert (result.status, result.body, result.url) == (200, RSS, url)
    assert (result.etag, result.last_modified) == ('"v1"', LAST_MODIFIED)
    assert result.headers["content-type"] == "application/rss+xml"
    assert 0 <= result.elapsed < TIMEOUT
    sent = server.requests[0].headers
    assert sent["User-Agent"] == "newsmon-test/1"
    assert sent["Accept"] == ACCEPT
    assert sent["Accept-Encoding"] == "gzip, deflate"
    assert "If-None-Match" not in sent and "If-Modified-Since" not in sent


async def test_validators_give_304_with_empty_body(server: FeedServer, fetcher: Fetcher) -> None:
    url = server.add("/feed", feed(RSS, etag='"v1"', last_modified=LAST_MODIFIED))
    result = await fetcher.fetch(url, etag='"v1"', last_modified=LAST_MODIFIED)
    assert (result.status, result.body) == (304, b"")
    assert (result.etag, result.last_modified) == ('"v1"', LAST_MODIFIED)
    sent = server.requests[0].headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == LAST_MODIFIED


async def test_if_modified_since_alone_gives_304(server: FeedServer, fetcher: Fetcher) -> None:
    url = server.add("/feed", feed(RSS, last_modified=LAST_MODIFIED))
    result = await fetcher.fetch(url, last_modified=LAST_MODIFIED)
    assert result.status == 304
    assert server.requests[0].headers["If-Modified-Since"] == LAST_MODIFIED


async def test_relative_redirect_is_resolved(server: FeedServer, fetcher: Fetcher) -> None:
    final = server.add("/feeds/world.xml", feed(RSS))
    url = server.add("/feeds/old", redirect("world.xml", 301))
    result = await fetcher.fetch(url)
    assert (result.status, result.body, result.url) == (200, RSS, final)


# -- HTTP errors ------------------------------------------------------------------


async def test_500_is_http_5xx(server: FeedServer, fetcher: Fetcher) -> None:
    exc = await fails(fetcher, server.add("/e", status(500)), "http_5xx")
    assert (exc.status, exc.retry_after) == (500, None)


async def test_404_is_http_4xx(server: FeedServer, fetcher: Fetcher) -> None:
    exc = await fails(fetcher, server.add("/e", status(404)), "http_4xx")
    assert exc.status == 404


async def test_429_carries_retry_after_seconds(server: FeedServer, fetcher: Fetcher) -> None:
    exc = await fails(fetcher, server.add("/e", status(429, {"Retry-After": "7"})), "http_4xx")
    assert (exc.status, exc.retry_after) == (429, 7.0)


async def test_503_carries_retry_after_http_date(server: FeedServer, fetcher: Fetcher) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    exc = await fails(fetcher, server.add("/e", status(503, {"Retry-After": when})), "http_5xx")
    assert exc.status == 503
    assert exc.retry_after is not None and 110 <= exc.retry_after <= 121


# -- deadline, size cap, encoding ---------------------------------------------------


async def test_hang_times_out_at_the_deadline(server: FeedServer, fetcher: Fetcher) -> None:
    await fails(fetcher, server.add("/hang", hang), "timeout")


async def test_drip_times_out_at_the_deadline(server: FeedServer, fetcher: Fetcher) -> None:
    started = time.monotonic()
    await fails(fetcher, server.add("/drip", drip), "timeout")
    assert time.monotonic() - started >= TIMEOUT - 0.1  # the deadline, not an idle timeout


async def test_deadline_covers_all_redirect_hops(server: FeedServer) -> None:
    server.add("/c", feed(RSS, delay=0.4))
    server.add("/b", redirect("/c", delay=0.4))
    url = server.add("/a", redirect("/b", delay=0.4))  # each hop in time, all three not
    async with Fetcher(config_for(server, timeout=1.0)) as f:
        await fails(f, url, "timeout", within=1.0 + 3.0)
    assert [r.path for r in server.requests] == ["/a", "/b", "/c"]


async def test_gzip_bomb_stops_at_the_cap_without_inflating(
    server: FeedServer, fetcher: Fetcher
) -> None:
    url = server.add("/bomb", gzip_bomb(gib=1))  # 1 GiB of zeros in ~1 MB
    reset_peak_rss()
    exc = await fails(fetcher, url, "too_large")
    # stopped while streaming (by our cap, or by aiohttp's bound on one chunk), not by a header
    assert "Content-Length" not in exc.detail
    peak = peak_rss_bytes()
    print(f"peak RSS during gzip bomb: {peak / MiB:.1f} MiB")
    assert peak < 300 * MiB


async def test_endless_chunked_body_stops_at_the_cap(server: FeedServer, fetcher: Fetcher) -> None:
    exc = await fails(fetcher, server.add("/endless", endless), "too_large")
    assert exc.detail.startswith("body over")


async def test_declared_length_over_the_cap_is_refused_before_reading(
    server: FeedServer, fetcher: Fetcher
) -> None:
    await fails(fetcher, server.add("/big", feed(b"x" * (MiB + 1))), "too_large")


async def test_body_at_exactly_the_cap_is_fine(server: FeedServer, fetcher: Fetcher) -> None:
    result = await fetcher.fetch(server.add("/cap", feed(b"x" * MiB)))
    assert len(result.body) == MiB


async def test_broken_gzip_is_bad_encoding(server: FeedServer, fetcher: Fetcher) -> None:
    await fails(fetcher, server.add("/gz", bad_gzip), "bad_encoding")


# -- redirects ----------------------------------------------------------------------


async def test_redirect_loop_is_too_many_redirects(server: FeedServer, fetcher: Fetcher) -> None:
    server.add("/b", redirect("/a"))
    await fails(fetcher, server.add("/a", redirect("/b")), "too_many_redirects")
    assert len(server.requests) == FetchConfig().max_redirects + 1  # 5 redirects followed


async def test_redirect_to_file_is_bad_scheme(server: FeedServer, fetcher: Fetcher) -> None:
    await fails(fetcher, server.add("/r", redirect("file:///etc/passwd")), "bad_scheme")


async def test_redirect_without_location_is_bad_redirect(
    server: FeedServer, fetcher: Fetcher
) -> None:
    await fails(fetcher, server.add("/r", status(302)), "bad_redirect")


def test_https_to_http_redirect_is_insecure() -> None:
    with pytest.raises(FetchError) as info:
        _redirect_target(URL("https://example.com/feed"), "http://example.com/feed")
    assert info.value.reason == "insecure_redirect"
    assert _redirect_target(URL("http://a.example/x/y"), "//b.example/z") == URL(
        "http://b.example/z"
    )
    assert _redirect_target(URL("http://a.example/x/y"), "https://a.example/") == URL(
        "https://a.example/"
    )


async def test_non_http_url_is_bad_scheme(fetcher: Fetcher) -> None:
    await fails(fetcher, "ftp://example.com/feed.xml", "bad_scheme", within=1.0)


# -- SSRF ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{private}/",  # loopback, another port than the allowed one
        "http://localhost:{private}/",  # a DNS name resolving to loopback
        "http://[::ffff:127.0.0.1]:{private}/",  # IPv4-mapped IPv6
        "http://[::1]:{private}/",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://0x7f.1:{private}/",  # a legacy numeric form the resolver turns into 127.0.0.1
    ],
)
async def test_redirect_to_internal_address_is_blocked(
    server: FeedServer, private: FeedServer, fetcher: Fetcher, target: str
) -> None:
    url = server.add("/r", redirect(target.format(private=private.port)))
    exc = await fails(fetcher, url, "ssrf_blocked", within=1.0)
    assert isinstance(exc, BlockedAddress)
    assert private.requests == []


async def test_direct_private_address_is_blocked_without_connecting(fetcher: Fetcher) -> None:
    exc = await fails(fetcher, "http://10.0.0.1/", "ssrf_blocked", within=0.5)
    assert isinstance(exc, BlockedAddress)


async def test_allowlist_opens_a_network(server: FeedServer, private: FeedServer) -> None:
    async with Fetcher(config_for(server, allow_networks=("127.0.0.0/8",))) as f:
        result = await f.fetch(private.url("/"))
    assert result.body == b"secret"


def test_bad_allowlist_entry_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33'.*'nonsense'"):
        Fetcher(FetchConfig(allow_networks=("127.0.0.1", "10.0.0.0/33", "nonsense")))


# -- transport errors and limits ----------------------------------------------------


async def test_refused_connection_is_connect(server: FeedServer) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with Fetcher(config_for(server, allow_networks=(f"127.0.0.1:{port}",))) as f:
        await fails(f, f"http://127.0.0.1:{port}/", "connect")


async def test_untrusted_certificate_is_tls(tmp_path: Path) -> None:
    ssl_server = await tls_server(tmp_path)
    port = ssl_server.sockets[0].getsockname()[1]
    try:
        async with Fetcher(FetchConfig(timeout=TIMEOUT, allow_networks=("127.0.0.1",))) as f:
            await fails(f, f"https://127.0.0.1:{port}/", "tls")
    finally:
        ssl_server.close()
        await ssl_server.wait_closed()


async def test_per_host_limit_holds(server: FeedServer) -> None:
    url = server.add("/slow", feed(RSS, delay=0.3))
    async with Fetcher(config_for(server, per_host=2)) as f:
        results = await asyncio.gather(*(f.fetch(url) for _ in range(6)))
    assert [r.status for r in results] == [200] * 6
    assert server.max_in_flight == 2


async def test_queued_fetch_is_not_timed_out_by_the_wait(server: FeedServer) -> None:
    url = server.add("/slow", feed(RSS, delay=0.6))
    async with Fetcher(config_for(server, per_host=1, timeout=1.0)) as f:
        results = await asyncio.gather(*(f.fetch(url) for _ in range(3)))  # 1.8 s in all
    assert [r.status for r in results] == [200] * 3


async def test_global_limit_holds(server: FeedServer) -> None:
    url = server.add("/slow", feed(RSS, delay=0.3))
    async with Fetcher(config_for(server, per_host=10, concurrency=3)) as f:
        await asyncio.gather(*(f.fetch(url) for _ in range(6)))
    assert server.max_in_flight == 3


async def test_cancellation_propagates(server: FeedServer, fetcher: Fetcher) -> None:
    task = asyncio.create_task(fetcher.fetch(server.add("/hang", hang)))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_admission_wait_is_not_timed_out_and_keeps_the_slot(server: FeedServer) -> None:
    """The parser's back-pressure (``admit``) is waited for after the body is
    read, outside the fetch's deadline, holding the fetch's slot meanwhile."""
    url = server.add("/feed", feed(RSS))
    admitted = asyncio.Event()
    asked = 0

    async def admit() -> None:
        nonlocal asked
        asked += 1
        await admitted.wait()

    async with Fetcher(config_for(server, timeout=1.0, concurrency=1)) as f:
        task = asyncio.create_task(f.fetch(url, admit=admit))
        async with asyncio.timeout(PROMPT):
            while not asked:
                await asyncio.sleep(0.01)
        other = asyncio.create_task(f.fetch(url))  # waits for the one slot
        await asyncio.sleep(1.5)  # past the 1 s deadline, waiting for admission
        assert not task.done() and len(server.requests) == 1
        admitted.set()
        result = await asyncio.wait_for(task, PROMPT)
        assert (await asyncio.wait_for(other, PROMPT)).status == 200
    assert (result.status, result.body, asked) == (200, RSS, 1)
    assert len(server.requests) == 2


async def test_no_admission_asked_for_a_304_or_an_error(server: FeedServer) -> None:
    async def admit() -> None:
        raise AssertionError("admission asked")

    url = server.add("/feed", feed(RSS, etag='"v1"'))
    async with Fetcher(config_for(server)) as f:
        assert (await f.fetch(url, etag='"v1"', admit=admit)).status == 304
        with pytest.raises(FetchError):
            await f.fetch(server.url("/missing"), admit=admit)


async def test_stop_set_before_the_slot_means_not_started(server: FeedServer) -> None:
    release = asyncio.Event()

    async def held(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.Response(body=RSS)

    url = server.add("/held", held)
    stop = asyncio.Event()
    async with Fetcher(config_for(server, concurrency=1)) as f:
        first = asyncio.create_task(f.fetch(url, stop=stop))
        async with asyncio.timeout(PROMPT):
            while not server.requests:
                await asyncio.sleep(0.01)
        second = asyncio.create_task(f.fetch(url, stop=stop))  # waits for the one slot
        await asyncio.sleep(0.1)
        stop.set()
        release.set()
        assert (await asyncio.wait_for(first, PROMPT)).status == 200  # in flight: finished
        with pytest.raises(NotStarted):
            await asyncio.wait_for(second, PROMPT)
    assert len(server.requests) == 1


async def _garbage_server() -> asyncio.Server:
    """A raw server answering every request with a bad status line."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1000)
        writer.write(b"HTTP/1.1 2OO OK\r\nX: y\r\n\r\nbody")
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/feed.xml?api_key={secret}",
        "http://reader:{secret}@127.0.0.1:{port}/feed.xml",
        "http://{secret}@127.0.0.1:{port}/feed.xml?x=1#{secret}",
    ],
)
async def test_error_detail_never_holds_a_query_or_userinfo(template: str) -> None:
    secret = "SUPERSECRET"
    srv = await _garbage_server()
    port = srv.sockets[0].getsockname()[1]
    try:
        config = FetchConfig(allow_networks=(f"127.0.0.1:{port}",), timeout=5)
        async with Fetcher(config) as f:
            with pytest.raises(FetchError) as info:
                await f.fetch(template.format(port=port, secret=secret))
    finally:
        srv.close()
        await srv.wait_closed()
    assert info.value.reason == "protocol"
    # what went wrong is still said (aiohttp's words vary: "Bad status line", "Invalid status code")
    assert "status" in info.value.detail.lower()
    assert secret not in info.value.detail and secret not in str(info.value)


def test_urls_in_error_text_are_cut() -> None:
    text = "x url='http://u:pw@h.example:8/a/b?k=SECRET#f' and https://h.example/p"
    assert redact_urls(text) == "x url='http://***@h.example:8/a/b?***' and https://h.example/p"
    assert redact_urls(text, paths=False) == (
        "x url='http://***@h.example:8/***?***' and https://h.example/***"
    )


async def test_a_secret_url_keeps_even_its_path_out_of_errors(server: FeedServer) -> None:
    location = "http://127.0.0.1:99999/feeds/SUPERSECRET/next?k=SUPERSECRET"
    url = server.add("/feeds/SUPERSECRET/rss", redirect(location))
    async with Fetcher(config_for(server)) as f:
        with pytest.raises(FetchError) as plain:
            await f.fetch(url)
        with pytest.raises(FetchError) as secret:
            await f.fetch(Secret(url))
    assert plain.value.reason == secret.value.reason == "bad_redirect"
    assert plain.value.detail == "bad Location 'http://127.0.0.1:99999/feeds/SUPERSECRET/next?***'"
    assert secret.value.detail == "bad Location 'http://127.0.0.1:99999/***?***'"


# -- the address policy (pure) ----------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("::ffff:8.8.8.8", True),  # mapped: judged as 8.8.8.8
        ("2002:808:808::1", True),  # 6to4 of 8.8.8.8
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8 (DNS64 networks)
        ("127.0.0.1", False),
        ("127.255.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("172.31.255.255", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("100.127.255.255", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("192.0.2.1", False),  # documentation
        ("::1", False),
        ("::", False),
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("fe80::1", False),
        ("fec0::1", False),  # site-local (deprecated)
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b:1::1", False),  # local-use NAT64
        ("2001:db8::1", False),  # documentation
    ],
)
def test_address_policy(address: str, public: bool) -> None:
    ip = ipaddress.ip_address(address)
    assert is_public(ip) is public
    assert is_allowed(ip, 80) is public


def test_allowlist_with_and_without_port() -> None:
    allow = parse_allowlist(["127.0.0.1:8080", "10.0.0.0/8", "[::1]:8443", "[fd00::/8]"])
    assert allow[0] == Allowed(ipaddress.ip_network("127.0.0.1/32"), 8080)
    loopback, ten = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.9.8.7")
    assert is_allowed(loopback, 8080, allow)
    assert not is_allowed(loopback, 8081, allow)  # only the port given
    assert is_allowed(ipaddress.ip_address("::ffff:127.0.0.1"), 8080, allow)  # same host
    assert is_allowed(ten, 1, allow) and is_allowed(ten, 65535, allow)  # any port
    assert is_allowed(ipaddress.ip_address("11.0.0.1"), 80, allow)  # public anyway
    assert is_allowed(ipaddress.ip_address("::1"), 8443, allow)
    assert not is_allowed(ipaddress.ip_address("::1"), 80, allow)
    assert is_allowed(ipaddress.ip_address("fd00::5"), 80, allow)
    assert not is_allowed(ipaddress.ip_address("192.168.0.1"), 80, allow)


@pytest.mark.parametrize(
    "entry",
    [
        "nonsense",
        "10.0.0.0/33",
        "10.0.0.1/8",
        "127.0.0.1:0",
        "127.0.0.1:99999",
        "[::1",
        "[::1]x",
        "127.0.0.1:http",
        "",
        "::1:8080:",
    ],
)
def test_bad_allowlist_entries(entry: str) -> None:
    with pytest.raises(ValueError, match="bad allow_networks entry"):
        parse_allowlist([entry])


# -- helpers ----------------------------------------------------------------------


async def tls_server(tmp_path: Path) -> asyncio.Server:
    """A TLS listener with a self-signed certificate nobody trusts."""
    import ssl
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
