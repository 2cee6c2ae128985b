"""The bundled sample feeds (examples/feeds) served by a test feed server, the alerts
rules/defense.yaml makes of them, and the alerts a file receiver wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from feedserver import FeedServer, feed

from support.config import ROOT

FEEDS = ROOT / "examples" / "feeds"
SAMPLES = {"wire": "defence-wire.xml", "atom": "world-atom.xml", "rdf": "analysis-rdf.xml"}
LAST_MODIFIED = "Fri, 12 Jul 2019 10:00:00 GMT"
EXPECTED = {  # title -> rules, for the three bundled sample feeds and rules/defense.yaml
    "First S-400 components land at Mürted air base near Ankara": ["s400"],
    "Pentagon moves to suspend Turkey from the F-35 programme": ["f35"],
    "Washington weighs CAATSA sanctions over Ankara's missile purchase": ["sanctions"],
    "Erdoğan says S-400 deliveries will be complete by April": ["s400", "turkey-leadership"],
    "Why technology transfer was the sticking point": ["technology-transfer"],
    "The Patriot missile offer that came too late": ["patriot"],
}


def serve_samples(server: FeedServer, *, validators: bool = True) -> dict[str, str]:
    """The bundled sample feeds at /wire.xml, /atom.xml and /rdf.xml: name -> URL."""
    return {
        name: server.add(
            f"/{name}.xml",
            feed(
                (FEEDS / file).read_bytes(),
                etag=f'"{name}-v1"' if validators else None,
                last_modified=LAST_MODIFIED if validators else None,
            ),
        )
        for name, file in SAMPLES.items()
    }


def read_alerts(tmp: Path, name: str = "alerts.jsonl") -> list[dict[str, Any]]:
    """The alerts a file receiver wrote to ``tmp/name``, one dict per line."""
    path = tmp / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
