"""A feed's record in ``<prefix>.feeds``, and which partition a feed belongs to (pure).

Key: the feed's identity URL as written in the config (``FeedConfig.url``: secrets left
as ``${VAR}``, userinfo as ``***@``), UTF-8. Value: JSON,

    {"v": 1, "state": {etag, last_modified, last_poll, next_poll, interval, ...},
     "known": "<base64 of the 8-byte id digests of the feed's last body>"}

``state`` is :func:`~monitor.store.feeds.export_feed_state`; ``known`` is what the
poller keeps of the last body (every id in it is seen), so the feed's next owner skips
those items instead of publishing them again. A feed belongs to the partition
kafka-python's default partitioner gives its key (murmur2, as the Java client), so an
owner polls exactly the feeds whose records live in the partitions it reads.
"""

from __future__ import annotations

import base64
import binascii
import json

from kafka.partitioner.default import murmur2

from monitor.store import FeedState
from monitor.store.feeds import export_feed_state, restore_feed_state

VERSION = 1
DIGEST = 8  # bytes per id digest (monitor.sources.normalise.id_digest)
MAX_KNOWN = 50_000  # digests kept per record: 400 KB, well under Kafka's 1 MB message


def feed_partition(url: str, partitions: int) -> int:
    """The partition of ``<prefix>.feeds`` that feed ``url`` belongs to."""
    return int(murmur2(url.encode("utf-8", "surrogatepass")) & 0x7FFFFFFF) % partitions


def encode_record(state: FeedState, known: bytes) -> bytes:
    known = known[-MAX_KNOWN * DIGEST :] if len(known) > MAX_KNOWN * DIGEST else known
    body = {"v": VERSION, "state": export_feed_state(state),
            "known": base64.b64encode(known).decode("ascii")}  # fmt: skip
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def decode_record(url: str, value: bytes) -> tuple[FeedState, bytes]:
    """The state and known digests of feed ``url``'s record; ValueError if it is not
    one this version reads (another version, not JSON, a field of the wrong shape)."""
    try:
        body = json.loads(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValueError("not an object")
    if body.get("v") != VERSION:
        raise ValueError(f"unknown version {str(body.get('v'))[:20]!r}")
    state = restore_feed_state(url, body.get("state"))
    text = body.get("known", "")
    if not isinstance(text, str) or len(text) > 2 * MAX_KNOWN * DIGEST:
        raise ValueError("known: not a bounded base64 text")
    try:
        known = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"known: {exc}") from None
    return state, known[: len(known) - len(known) % DIGEST]
