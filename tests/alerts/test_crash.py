"""Acceptance: SIGKILL while alerts are pending; after a restart every alert is
delivered and none twice (the outbox is written before each send and marked
after it)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from feedserver import FeedServer, rss
from standins import HookServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stories"
RULES = """rules:
  - {name: s400, keywords: ["S-400", "S400"], severity: high}
  - {name: f35, keywords: ["F-35"], severity: high}
"""


def write_config(tmp: Path, feeds: FeedServer, hook: HookServer) -> Path:
    (tmp / "rules.yaml").write_text(RULES, encoding="utf-8")
    urls = [feeds.add(f"/{f}", rss((FIXTURES / f).read_bytes()))
            for f in ("reuters.xml", "aljazeera.xml", "sabah.xml")]  # fmt: skip
    lines = ["feeds:", *(f"  - '{u}'" for u in urls)]
    lines += [
        "rules: [rules.yaml]",
        "state: {path: state.db}",
        "fetch: {allow_networks: ['127.0.0.1/32'], timeout: 5s}",
        "http: {enabled: false}",
        "delivery: {backoff: 0.3s, max_backoff: 1s, timeout: 5s}",
        "receivers:",
        f"  - {{name: hook, kind: webhook, url: '{hook.url('/hook')}'}}",
    ]
    path = tmp / "newsmon.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def start(config: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor.cli", "run", "-c", str(config), *args,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_sigkill_with_pending_alerts_then_restart_delivers_each_once(
    tmp_path: Path, feed_server: FeedServer, hook: HookServer
) -> None:
    config = write_config(tmp_path, feed_server, hook)
    hook.script("/hook", 200)  # the first alert goes through ...
    hook.default = 503  # ... the others fail until the receiver recovers
    proc = await start(config)
    async with asyncio.timeout(60):
        while len(hook.received("/hook")) < 4:
            await asyncio.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    # wait() returns only once stderr is closed: parse workers orphaned by the
    # kill would hold it open (they exit with the daemon)
    await asyncio.wait_for(proc.wait(), 20)
    assert len(hook.received("/hook", 200)) == 1

    hook.default = 200
    proc = await start(config, "--once")
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    accepted = [json.loads(r.body)["alerts"][0]["alert_id"] for r in hook.received("/hook", 200)]
    assert len(accepted) == 3
    assert len(set(accepted)) == 3  # none twice
