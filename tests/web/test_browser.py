"""Acceptance: a desk uses the web UI in Debian's headless Chromium (Playwright),
against a real ``newsmon run`` fed by the demo feeds. Screenshots of each page go to
the test's tmp dir (``<tmp>/screenshots/*.png``)."""

from __future__ import annotations

import re
from pathlib import Path

from feedserver import FeedServer
from playwright.async_api import Browser, Page, expect
from webdesk import TOKEN, Desk, alerts_written, desk_daemon, item, until_async

S400 = "First S-400 components land at Mürted air base near Ankara"
WAIT = 60_000  # ms: generous, the machine is shared


async def new_page(browser: Browser) -> Page:
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(WAIT)
    return page


async def test_stories_a_story_its_members_and_why_each_joined(
    tmp_path: Path, feed_server: FeedServer, browser: Browser, shots: Path
) -> None:
    async with desk_daemon(tmp_path, feed_server) as desk:
        await desk.story_titled(S400)
        page = await new_page(browser)
        response = await page.goto(desk.base + "/stories")
        assert response is not None and response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        row = page.locator("#stories tbody tr", has_text=S400)
        await expect(row).to_be_visible()
        await expect(row.locator(".badge")).to_have_text("high")
        await expect(row.locator("td").nth(2)).to_have_text("s400")
        await page.screenshot(path=shots / "stories.png", full_page=True)

        # a copy on another wire: the open page shows it joined, no reload (live refresh)
        desk.wire.append(item("cd-1", S400, "https://copydesk.example/s400-lands"))
        await expect(row.locator("td").nth(4)).to_have_text("2")
        await expect(row.locator("td").nth(3)).to_have_text("2")  # two outlets

        await row.locator("a.title").click()
        members = page.locator("#members tbody tr")
        await expect(members).to_have_count(2)
        await expect(members.nth(0).locator(".why")).to_have_text("started the story")
        await expect(members.nth(1)).to_contain_text("Copy Desk")
        await expect(members.nth(1).locator(".tier")).to_have_text("copy")
        await expect(members.nth(1).locator(".why")).to_contain_text(
            "copy of #1 (Defence Wire (demo)), score"
        )
        await expect(page.locator("section.evidence", has_text="s400")).to_contain_text("S-400")
        delivery = page.locator("section.delivery[data-receiver='desk-file']")
        await expect(delivery.locator("tbody tr").first).to_contain_text("sent")
        await page.screenshot(path=shots / "story.png", full_page=True)


async def test_feeds_show_a_failing_feed_first_and_rules_test_a_pasted_headline(
    tmp_path: Path, feed_server: FeedServer, browser: Browser, shots: Path
) -> None:
    async with desk_daemon(tmp_path, feed_server) as desk:
        await until_async(lambda: _failing(desk), "the 404 feed failing")
        page = await new_page(browser)
        await page.goto(desk.base + "/stories")
        await page.get_by_role("link", name="Feeds").click()
        first = page.locator("#feeds tbody tr").first
        await expect(first).to_have_attribute("data-feed", "gone")
        await expect(first.locator(".badge")).to_have_text("failing")
        await expect(first.locator(".reason")).to_contain_text("http_4xx")
        await expect(first.locator(".reason")).to_contain_text("HTTP 404")
        ok = page.locator("#feeds tbody tr[data-feed='defence-wire']")
        await expect(ok.locator(".badge")).to_have_text("ok")
        await expect(page.locator("#hosts")).to_contain_text("127.0.0.1")
        await page.screenshot(path=shots / "feeds.png", full_page=True)

        await page.get_by_role("link", name="Rules").click()  # the test box
        await expect(page.locator("#rules tr[data-rule='s400']")).to_contain_text("S-400")
        box = page.locator("#test-rule")
        await box.locator("input[name=title]").fill("Ankara says the S400 deal stands")
        await box.locator("textarea[name=text]").fill("Washington weighs CAATSA measures")
        await box.get_by_role("button", name="Test").click()
        verdicts = page.locator("#verdicts")
        await expect(verdicts.locator("tr[data-rule='s400']")).to_contain_text("MATCH")
        await expect(verdicts.locator("tr[data-rule='s400']")).to_contain_text("S400")
        await expect(verdicts.locator("tr[data-rule='sanctions']")).to_contain_text("CAATSA")
        await expect(page.locator("#test-rule input[name=title]")).to_have_value(
            "Ankara says the S400 deal stands"
        )
        await page.screenshot(path=shots / "rules.png", full_page=True)


async def _failing(desk: Desk) -> bool:
    feeds = (await desk.api("/api/feeds"))["feeds"]
    return any(f["name"] == "gone" and f["status"] == "failing" for f in feeds)


async def test_a_dead_lettered_alert_is_retried_from_the_alerts_page(
    tmp_path: Path, feed_server: FeedServer, browser: Browser, shots: Path
) -> None:
    async with desk_daemon(tmp_path, feed_server) as desk:
        dead = await _alert(desk, "dead")  # soar answered 400: dead-lettered at once
        assert "F-35" in dead["title"] and dead["receiver"] == "soar"
        desk.hook_ok = True  # the receiver is fixed
        page = await new_page(browser)
        await page.goto(desk.base + "/alerts")
        await page.locator("nav.tabs a", has_text="Dead-lettered").click()
        row = page.locator(f"#alerts tr[data-alert='{dead['alert_id']}']")
        await expect(row).to_contain_text("http_4xx")
        await page.screenshot(path=shots / "alerts-dead.png", full_page=True)
        await row.get_by_role("button", name="Retry").click()
        await expect(page.locator(".notice")).to_contain_text("back in the queue")
        sent = await _alert(desk, "sent", dead["alert_id"])
        assert sent["attempts"] >= 1
        await page.goto(desk.base + "/alerts?state=sent")
        await expect(
            page.locator(f"#alerts tr[data-alert='{dead['alert_id']}'] .badge")
        ).to_have_text("sent")
        await page.screenshot(path=shots / "alerts-sent.png", full_page=True)
    assert b"F-35" in desk.hook_bodies[-1]  # the receiver got it after the retry


async def _alert(desk: Desk, state: str, alert_id: str | None = None) -> dict[str, object]:
    found: list[dict[str, object]] = []

    async def look() -> bool:
        rows = (await desk.api(f"/api/alerts?state={state}"))["alerts"]
        found[:] = [
            a for a in rows if a["receiver"] == "soar" and alert_id in (None, a["alert_id"])
        ]
        return bool(found)

    await until_async(look, f"a {state} alert at soar")
    return found[0]


async def test_a_silence_made_on_a_story_mutes_its_next_update(
    tmp_path: Path, feed_server: FeedServer, browser: Browser, shots: Path
) -> None:
    async with desk_daemon(tmp_path, feed_server) as desk:
        story = await desk.story_titled(S400)
        page = await new_page(browser)
        await page.goto(f"{desk.base}/stories/{story['story_id']}")
        await page.get_by_role("link", name="Silence this story…").click()
        form = page.locator("#new-silence")
        await expect(form.locator("textarea[name=matchers]")).to_have_value(
            f"story={story['story_id']}"
        )
        await form.locator("input[name=author]").fill("ana")
        await form.locator("input[name=comment]").fill("known: we have it")
        await form.get_by_role("button", name="Create silence").click()
        await expect(page.locator(".notice")).to_contain_text("created")
        row = page.locator("#silences tbody tr").first
        await expect(row).to_contain_text(f"story={story['story_id']}")
        await expect(row).to_contain_text("active")
        silence_id = await row.get_attribute("data-silence")
        await page.screenshot(path=shots / "silences.png", full_page=True)

        desk.wire.append(item("cd-2", S400, "https://copydesk.example/s400-again"))
        await until_async(lambda: _muted(desk, story["story_id"]), "the update muted")
        await page.goto(f"{desk.base}/stories/{story['story_id']}")
        await expect(page.locator("#members tbody tr")).to_have_count(2)
        muted = page.locator("section.delivery[data-receiver='desk-file'] tr.state-muted")
        await expect(muted).to_contain_text(f"muted by silence {silence_id}")
        await expect(muted).to_contain_text("update")
        await page.screenshot(path=shots / "story-muted.png", full_page=True)
    versions = [
        a["version"] for a in alerts_written(tmp_path) if a["story_id"] == story["story_id"]
    ]
    assert versions == [1]  # the muted update was recorded, not sent


async def _muted(desk: Desk, story_id: str) -> bool:
    audit = await desk.api(f"/api/stories/{story_id}")
    return any(s["state"] == "muted" for d in audit["deliveries"] for s in d["sends"])


async def test_off_loopback_the_ui_asks_for_the_token_and_keeps_a_strict_cookie(
    tmp_path: Path, feed_server: FeedServer, browser: Browser, shots: Path
) -> None:
    async with desk_daemon(tmp_path, feed_server, host="0.0.0.0", token=TOKEN) as desk:
        page = await new_page(browser)
        await page.goto(desk.base + "/silences")
        await expect(page).to_have_url(re.compile(r"/login\?next="))
        await page.screenshot(path=shots / "login.png", full_page=True)
        await page.locator("input[name=token]").fill("not-the-token")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator(".error")).to_have_text("That is not the token.")
        await page.locator("input[name=token]").fill(TOKEN)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page).to_have_url(desk.base + "/silences")
        (cookie,) = await page.context.cookies()
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert TOKEN not in cookie["value"]
        form = page.locator("#new-silence")  # a form post with the session's CSRF token
        await form.locator("textarea[name=matchers]").fill("rule=sanctions")
        await form.locator("input[name=author]").fill("ana")
        await form.locator("input[name=comment]").fill("quiet week")
        await form.get_by_role("button", name="Create silence").click()
        await expect(page.locator("#silences tbody tr").first).to_contain_text("rule=sanctions")
        await page.get_by_role("button", name="Sign out").click()
        await expect(page).to_have_url(desk.base + "/login")
        await page.goto(desk.base + "/stories")
        await expect(page).to_have_url(re.compile(r"/login\?next="))
