"""The outbox for the web: pending, failing, dead-lettered, muted and sent alerts,
and putting a failed one back in the queue.

``pending`` alerts wait for their time (a group's wait, a mute window, a backoff);
one that has failed and is being retried shows as ``failing`` with its last error;
``dead`` ones were given up on (a 4xx, or the retry horizon passed); ``muted`` ones a
silence kept from being sent; ``sent`` ones the receiver took. A retry puts a dead or
failing alert back in the queue, due now, with a fresh horizon, and wakes its sender.
On Kafka only the daemon delivering to the alert's receiver (its delivery role holds the
receiver's partition) may: its outbox writes the requeued row to the delivery changelog,
so the retry survives a takeover; any other daemon answers 409 and shows no button.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from monitor.store import OutboxRow
from monitor.web.desk import Desk, Problem, when

VIEWS = {
    "open": ("pending", "dead", "muted"),
    "pending": ("pending",),
    "failing": ("pending",),
    "dead": ("dead",),
    "muted": ("muted",),
    "sent": ("sent",),
    "all": ("pending", "dead", "muted", "sent"),
}
RETRYABLE = ("dead", "pending")
MAX_LIMIT = 1000
KAFKA_404 = (" of this daemon: in kafka mode each daemon holds the alerts of the receivers its"
             " delivery role serves; retry it on the desk of the daemon delivering to its"
             " receiver")  # fmt: skip


def alert_list(desk: Desk, query: Mapping[str, str]) -> dict[str, Any]:
    view = query.get("state") or "open"
    if view not in VIEWS:
        raise Problem(400, f"state: expected one of {', '.join(VIEWS)}", "state")
    receiver = query.get("receiver") or None
    limit = query.get("limit") or "200"
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
        raise Problem(400, f"limit: expected a whole number from 1 to {MAX_LIMIT}", "limit")
    rows = desk.store.outbox_recent(VIEWS[view], receiver, int(limit))
    entries = [entry(desk, r) for r in rows]
    if view == "failing":
        entries = [e for e in entries if e["status"] == "failing"]
    elif view == "pending":
        entries = [e for e in entries if e["status"] == "pending"]
    counts = desk.store.outbox_counts()
    failing = counts.get("failing", 0)
    return {
        "alerts": entries,
        "state": view,
        "receiver": receiver,
        "counts": {
            "open": sum(counts.get(s, 0) for s in VIEWS["open"]),
            "pending": counts.get("pending", 0) - failing,
            "failing": failing,
            "dead": counts.get("dead", 0),
            "muted": counts.get("muted", 0),
            "sent": counts.get("sent", 0),
        },
        "receivers": list(desk.receivers),
    }


def _here(desk: Desk, receiver: str) -> bool:
    """Whether this daemon delivers to ``receiver`` (always on the memory bus)."""
    return desk.delivers is None or desk.delivers(receiver)


def _failing(row: OutboxRow) -> bool:
    return row.state == "pending" and row.attempts > 0 and bool(row.last_error)


def entry(desk: Desk, row: OutboxRow) -> dict[str, Any]:
    data = _alert(row)
    title = data.get("title")
    if not isinstance(title, str):
        story = desk.book.get(row.story_id)
        title = story.item.title if story is not None else ""
    event = str(data.get("event") or ("story.updated" if row.kind == "sync" else "story.created"))
    return {
        "alert_id": row.alert_id, "story_id": row.story_id, "receiver": row.receiver,
        "kind": row.kind, "state": row.state,
        "status": "failing" if _failing(row) else row.state, "title": title,
        "event": event.removeprefix("story."), "attempts": row.attempts,
        "due": when(row.due) if row.state == "pending" else None,
        "created": when(row.created), "updated": when(row.updated),
        "last_error": row.last_error,
        "retryable": row.state in RETRYABLE and _here(desk, row.receiver),
    }  # fmt: skip


def _alert(row: OutboxRow) -> dict[str, Any]:
    try:
        data = json.loads(row.payload)
    except ValueError:
        return {}
    return data if isinstance(data, dict) and "alert_id" in data else {}


def retry(desk: Desk, alert_id: str) -> dict[str, Any]:
    row = desk.store.outbox_row(alert_id)
    if row is None:
        raise Problem(404, f"no alert {alert_id!r} in the outbox" + (KAFKA_404 if desk.delivers
                                                                     else ""))  # fmt: skip
    if row.state not in RETRYABLE:
        raise Problem(409, f"alert {alert_id!r} is {row.state}: only a dead or pending alert"
                           " is retried here (`newsmon alerts retry` re-sends any)")  # fmt: skip
    if not _here(desk, row.receiver):
        raise Problem(409, f"alert {alert_id!r}: in kafka mode retries are done by the delivery"
                           f" role, and another daemon of the group delivers to {row.receiver!r}"
                           " now: retry it on that daemon's desk (its log says"
                           f" `partitions_assigned role=delivery ... receivers=...`)")  # fmt: skip
    desk.outbox.retry(alert_id, desk.clock())
    desk.wake({row.receiver})
    again = desk.store.outbox_row(alert_id)
    assert again is not None
    return entry(desk, again)
