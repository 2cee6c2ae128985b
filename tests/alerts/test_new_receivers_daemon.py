"""The apprise and alertmanager receivers in the daemon: a feed's items alert both
through ``newsmon run --once`` (the config, the routes, the outbox, the sinks),
one of them with its own templates, and no secret reaches them by mistake."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from alertmanager import alertmanager, api
from feedserver import FeedServer, rss
from prometheus_client import CollectorRegistry
from standins import HookServer

from monitor.alerts.sinks import schemas
from monitor.app import App
from monitor.config import load_config

FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>
<item><title>Russia to deliver S-400 batteries to Turkey &lt;!channel&gt;</title>
<link>https://wire.example/s400</link><guid>w-1</guid>
<description>Ankara confirms the deal.</description></item>
</channel></rss>"""


async def test_a_story_reaches_apprise_and_alertmanager_through_the_daemon(
    tmp_path: Path, feed_server: FeedServer, hook: HookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = feed_server.add("/wire.xml", rss(FEED))
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - {name: s400, keywords: [S-400], severity: high, labels: {desk: defence}}\n",
        encoding="utf-8",
    )
    (tmp_path / "am").mkdir()
    with alertmanager(tmp_path / "am") as base:
        monkeypatch.setenv("PHONES_URL", f"json://127.0.0.1:{hook.port}/phones")
        monkeypatch.setenv("AM_URL", base)
        config = tmp_path / "newsmon.yaml"
        config.write_text(
            f"""feeds: ['{url}']
rules: [rules.yaml]
state: {{path: state.db}}
fetch: {{allow_networks: ['127.0.0.1/32'], timeout: 5s}}
http: {{enabled: false}}
receivers:
  - name: phones
    kind: apprise
    url: "${{PHONES_URL}}"
    title_template: "{{{{ alert.labels | map('last') | join('/') }}}}: {{{{ title(alert) }}}}"
  - {{name: am, kind: alertmanager, url: "${{AM_URL}}", resolve_after: 30m}}
""",
            encoding="utf-8",
        )
        settings = load_config(config, receivers=schemas())
        app = App(settings, registry=CollectorRegistry())
        await asyncio.wait_for(app.run(asyncio.Event(), once=True), 90)
        found = api(base, "/alerts", filter='alertname="NewsmonStory"')
    (note,) = [json.loads(r.body) for r in hook.received("/phones", 200)]
    assert note["title"] == "defence: Russia to deliver S-400 batteries to Turkey <!channel>"
    assert "Ankara confirms the deal." in note["message"] and note["type"] == "warning"
    (firing,) = found
    assert {k: firing["labels"][k] for k in ("rule", "severity", "desk", "receiver")} == {
        "rule": "s400", "severity": "high", "desk": "defence", "receiver": "am",
    }  # fmt: skip
    assert firing["annotations"]["title"].startswith("Russia to deliver S-400 batteries")
    assert firing["generatorURL"] == "https://wire.example/s400"
    assert os.environ["AM_URL"] not in json.dumps(note)
