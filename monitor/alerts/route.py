"""From a matched story to one alert per receiver.

Foundation version: every receiver gets every alert. The delivery issue turns
this into an Alertmanager-style routing tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from monitor.model import SEVERITIES, Alert, Evidence, Match


def alerts_for(
    match: Match, story_id: str, receivers: Sequence[str], duplicates: Sequence[str] = ()
) -> list[Alert]:
    item = match.item
    severity = max((h.severity for h in match.hits), key=SEVERITIES.index, default="medium")
    matched: dict[str, list[Evidence]] = {}
    for hit in match.hits:
        for ev in hit.evidence:
            matched.setdefault(ev.term, []).append(ev)
    return [
        Alert(
            alert_id=alert_id(story_id, receiver),
            story_id=story_id,
            receiver=receiver,
            rules=match.rules,
            severity=severity,
            title=item.title,
            link=item.link,
            source=item.source,
            published=item.published,
            matched=tuple((term, tuple(ev)) for term, ev in matched.items()),
            duplicates=tuple(duplicates),
            summary=item.summary,
            item_id=item.id,
            feed_url=item.feed_url,
        )
        for receiver in receivers
    ]


def alert_id(story_id: str, receiver: str) -> str:
    """One story alerts once per receiver: the id says so."""
    return hashlib.sha256(f"{story_id}\0{receiver}".encode()).hexdigest()[:20]
