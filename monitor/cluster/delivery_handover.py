"""The delivery role's handovers, on the event loop: a partition taken, one given up.

* :func:`restore`: on assignment, the partition's changelog state merged into this
  daemon's outbox (:func:`~monitor.cluster.delivery_changelog.pick`), the differences
  queued to the changelog, and the partition's receivers served.
* :func:`release`: on revocation, the partition's receivers take no new sends, the send
  in flight finishes (bounded by ``delivery.timeout``) and its outcome is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from monitor.bus.kafka_txn import Fenced, Out
from monitor.cluster import delivery_changelog as changelog
from monitor.cluster.delivery_writer import Writer

if TYPE_CHECKING:
    from monitor.cluster.delivery import DeliveryOwner


async def restore(owner: DeliveryOwner, partition: int, writer: Writer,
                  state: changelog.Partition) -> tuple[int, int]:  # fmt: skip
    """On the event loop: the partition's state merged into the local outbox; the
    differences queued to the changelog; its receivers served."""
    outbox, store = owner.outbox, owner.outbox.store
    old = owner.outbox.writers.get(partition)
    if old is not None:
        old.close()
    outbox.writers[partition] = writer
    receivers = owner.receivers_of({partition})
    mine, old_sent = set(receivers), time.time() - owner.keep_sent
    local = {r.alert_id: r for r in store.outbox_receivers_rows(receivers)}
    shared = {i: r for i, r in state.rows.items() if r.receiver in mine}
    forgotten = [
        i for i, r in shared.items() if r.state in ("sent", "muted") and r.updated < old_sent
    ]  # as the state file forgets them at start
    for alert_id in forgotten:
        del shared[alert_id]
        local.pop(alert_id, None)
    if forgotten:
        writer.submit([Out(owner.topic, changelog.row_key(i), None, partition)
                       for i in forgotten])  # fmt: skip
    take, keep = [], []
    for alert_id in local.keys() | shared.keys():
        chosen = changelog.pick(local.get(alert_id), shared.get(alert_id))
        if chosen is not None and chosen is shared.get(alert_id):
            take.append(chosen)
        elif chosen is not None and chosen != shared.get(alert_id):
            keep.append(chosen)
    store.outbox_import(take)
    told_local = {(t.story_id, t.receiver): t for t in store.deliveries_to(receivers)}
    told_shared = {k: t for k, t in state.told.items() if k[1] in mine}
    told = [changelog.pick_told(told_local.get(k), told_shared.get(k))
            for k in told_local.keys() | told_shared.keys()]  # fmt: skip
    store.import_deliveries(t for t in told if t is not None)
    for esc in state.escalations:
        store.record_escalation(esc)
    now = time.time()
    for story in state.stories.values():
        outbox.remember(story, partition, now)
    outbox._last_flush.update(state.flushed)
    for receiver, until in state.blocked.items():
        if (worker := owner.dispatcher.workers.get(receiver)) is not None:
            worker.blocked_until = max(worker.blocked_until, until)
    outbox.attempted |= {i for i in state.attempted if i in shared and shared[i] in take}
    outbox.changed(r.alert_id for r in keep)  # what Kafka missed: this daemon's own
    owner._serve({partition})
    return len(take) + len(keep), len(keep)


async def release(owner: DeliveryOwner, partitions: frozenset[int]) -> None:
    receivers = owner.receivers_of(partitions)
    owner.outbox.serving -= set(receivers)
    deadline = time.monotonic() + owner.release_timeout
    workers = [w for r, w in owner.dispatcher.workers.items() if r in receivers]
    while any(w.busy for w in workers) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    for p in partitions:
        if (writer := owner.outbox.writers.get(p)) is not None:
            with contextlib.suppress(Fenced):  # else the next owner has it already
                await asyncio.wrap_future(writer.submit([]))
