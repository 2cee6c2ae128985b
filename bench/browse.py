"""A desk's browser for the polling benchmark, in a process of its own: Debian's
headless Chromium (Playwright) open on a Stories page with live refresh on, until
told to stop on stdin; then it prints how many live refreshes it made.

    python -m bench.browse http://127.0.0.1:PORT/stories
"""

from __future__ import annotations

import asyncio
import sys

from playwright.async_api import async_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


async def browse(url: str) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page()
        answers: list[int] = []
        page.on("response", lambda r: answers.append(r.status) if "/api/stories" in r.url else None)
        await page.goto(url)
        # the first live refresh made (no eval: the page's CSP forbids it, rightly)
        await page.locator("#refreshed", has_text="checked").wait_for(timeout=60_000)
        print("open", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        full, unchanged = answers.count(200), answers.count(304)
        print(f"refreshes {len(answers)} full {full} unchanged {unchanged}", flush=True)
        await browser.close()


if __name__ == "__main__":
    asyncio.run(browse(sys.argv[1]))
