"""Acceptance: hostile feed text renders as text and runs nothing, in Chromium.

A title carrying ``<script>``, an ``onerror`` image, a closing ``</table>`` or Slack's
``<!channel>`` shows as those characters; no script of the page's sets the flag a
hostile one would (``window.__pwned``); a ``javascript:`` link, whether the feed's
(dropped by normalising) or one that reached the store anyway, renders as plain text
that does nothing when clicked; and every page has the strict CSP.
"""

from __future__ import annotations

from pathlib import Path

from feedserver import FeedServer
from playwright.async_api import Browser, Page, expect
from webapp import web_app
from webdesk import desk_daemon

from monitor.model import Item

HOSTILE = (Path(__file__).parent / "hostile.xml").read_bytes()
SOURCE = "Evil Wire <script>window.__pwned=9</script>"  # the feed's own title
TITLES = [
    "<script>window.__pwned = 3</script> S-400 battery moves",
    'S-400 radar" onmouseover="window.__pwned=4" x=\' </a><script>window.__pwned=5</script>',
    "<!channel> <!here> S-400 deal <@U123> via <https://evil.example/phish|https://bank.example/login>",
    "S-400 <!everyone> <@W999> in a CDATA title",
]


async def watched(browser: Browser) -> tuple[Page, list[str]]:
    """A page, and what would betray a script run or blocked: dialogs, CSP reports."""
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    events: list[str] = []
    page.on("dialog", lambda d: events.append(f"dialog {d.message}"))
    page.on("console", lambda m: events.append(f"console {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: events.append(f"pageerror {e}"))
    return page, events


async def assert_clean(page: Page, events: list[str]) -> None:
    assert await page.evaluate("window.__pwned") is None
    assert (
        await page.locator("main script, main img, main [onerror], main [onmouseover]").count() == 0
    )
    assert await page.locator("a[href^='javascript' i]").count() == 0
    assert events == []  # not even a blocked inline script: nothing became markup


async def test_hostile_titles_through_the_daemon_render_as_text(
    tmp_path: Path, feed_server: FeedServer, browser: Browser, shots: Path
) -> None:
    async with desk_daemon(tmp_path, feed_server, extra={"evil": HOSTILE}) as desk:
        for title in TITLES:
            await desk.story_titled(title)
        page, events = await watched(browser)
        response = await page.goto(desk.base + "/stories?q=S-400")
        assert response is not None
        headers = response.headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        table = page.locator("#stories")
        for title in TITLES:
            await expect(table.locator("a.title", has_text=title)).to_have_count(1)
        await expect(table.locator(".sub", has_text=SOURCE).first).to_be_visible()
        await assert_clean(page, events)
        await expect(page.locator("#refreshed")).to_contain_text("checked")  # live.js redrew
        for title in TITLES:
            await expect(table.locator("a.title", has_text=title)).to_have_count(1)
        await assert_clean(page, events)
        await page.screenshot(path=shots / "stories-hostile.png", full_page=True)

        story = await desk.story_titled("in a CDATA title")  # its feed link was javascript:
        await page.goto(f"{desk.base}/stories/{story['story_id']}")
        title = page.locator("#members .nolink", has_text="in a CDATA title")
        await expect(title).to_be_visible()
        before = page.url
        await title.click()
        assert page.url == before
        await assert_clean(page, events)
        for path in ("/feeds", "/alerts?state=all", "/rules", "/silences"):
            response = await page.goto(desk.base + path)
            assert (
                response is not None
                and "script-src 'self'" in response.headers["content-security-policy"]
            )
            await assert_clean(page, events)
        await page.goto(desk.base + "/feeds")
        await expect(page.locator("#feeds")).to_contain_text(SOURCE)
        await page.screenshot(path=shots / "feeds-hostile.png", full_page=True)


async def test_a_javascript_link_in_the_store_renders_inert_and_clicks_to_nothing(
    tmp_path: Path, browser: Browser, shots: Path
) -> None:
    feed = {"feed_url": "https://evil.example/rss", "feed": "evil", "source": "Evil"}
    items = [
        Item(id="js", title="S-400 click here", link="javascript:window.__pwned=1", **feed),
        Item(id="data", title="Greek ministry publishes budget data",
             link="data:text/html,<script>parent.__pwned=2</script>", **feed),
    ]  # fmt: skip
    async with web_app(tmp_path, items) as base:
        page, events = await watched(browser)
        await page.goto(base + "/stories")
        for item in items:
            await page.goto(base + "/stories")
            await page.locator("a.title", has_text=item.title).click()
            title = page.locator("#members .nolink", has_text=item.title)
            await expect(title).to_be_visible()
            before = page.url
            await title.click()
            assert page.url == before
            await assert_clean(page, events)
        await page.screenshot(path=shots / "story-javascript-link.png", full_page=True)
