"""What the Kafka consumer hands a stage: messages, their offsets, and dead letters.

* :class:`KafkaMessage`: one record decoded for the stage, acked (or dead-lettered)
  by it once its own output is durable.
* :class:`PartitionOffsets`: the offsets of one partition delivered to the stage, and
  how far every one of them is acked (acks may come out of order).
* :func:`classify`: a record's value, or the bounded reason it goes to the dead-letter
  topic instead; never raises.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from monitor.model import SCHEMA_VERSION, Record, decode

SCHEMA_HEADER = "newsmon-schema"
ORIGIN_HEADER = "newsmon-origin"


class PartitionOffsets:
    """Offsets of one partition delivered to the stage, and how far all are acked."""

    __slots__ = ("acked", "committable", "committed", "delivered", "live")

    def __init__(self) -> None:
        self.live = True  # False once the partition is revoked: late acks are ignored
        self.delivered: deque[int] = deque()
        self.acked: set[int] = set()
        self.committable: int | None = None  # next offset to read after a restart
        self.committed: int | None = None

    def ack(self, offset: int) -> None:
        delivered, acked = self.delivered, self.acked
        if not delivered or delivered[0] != offset:
            acked.add(offset)  # out of order: wait for the ones before it
            return
        delivered.popleft()
        self.committable = offset + 1
        while acked and delivered and delivered[0] in acked:
            done = delivered.popleft()
            acked.discard(done)
            self.committable = done + 1


class KafkaMessage:
    __slots__ = ("_acked", "_offsets", "_on_ack", "_record", "dead", "key", "offset", "origin",
                 "partition", "value")  # fmt: skip

    def __init__(
        self, key: str, value: Record, partition: int, offset: int, origin: bytes | None,
        offsets: PartitionOffsets, on_ack: Callable[[KafkaMessage], None], record: Any,
    ) -> None:  # fmt: skip
        self.key = key
        self.value = value
        self.partition = partition
        self.offset = offset
        self.origin = origin
        self.dead: tuple[str, str] | None = None  # (reason, detail) once dead-lettered
        self._offsets = offsets
        self._on_ack = on_ack
        self._record = record  # the record as read: what a dead letter keeps
        self._acked = False

    async def ack(self) -> None:
        if not self._acked:
            self._acked = True
            self._on_ack(self)

    async def dead_letter(self, reason: str, detail: str = "") -> None:
        """Send the record as read to the dead-letter topic; it counts as processed
        (committed past) once stored there."""
        if not self._acked:
            self._acked = True
            self.dead = (reason, detail)
            self._on_ack(self)


DeadLetter = Callable[[Any, str, str, Callable[[], None]], None]  # record, reason, detail, done


def classify(record: Any, headers: dict[str, bytes]) -> tuple[Record | None, str, str]:
    """The record's value, or None with a bounded reason code and the detail.
    Never raises: whatever a record holds, it is a value or a dead letter."""
    version = headers.get(SCHEMA_HEADER)
    if version is not None and version != str(SCHEMA_VERSION).encode():
        return None, "unknown_schema", f"schema header {version[:40]!r}"
    if record.value is None:
        return None, "undecodable", "empty value"
    try:
        return decode(record.value), "", ""
    except ValueError as exc:
        detail = str(exc)
        reason = "unknown_schema" if detail.startswith("unknown") else "undecodable"
        return None, reason, detail
    except Exception as exc:  # decode promises ValueError; a bug must not stop the stage
        return None, "undecodable", f"{type(exc).__name__}: {exc}"
