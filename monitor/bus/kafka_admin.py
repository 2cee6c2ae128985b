"""Kafka topic setup and the broker health probe (blocking: call off the event loop).

``ensure_topics`` creates the bus topics that are missing, with the partitions,
replication factor and retention of the config, and reports the ones that exist
with other settings (a topic's partition count is not changed behind the
operator's back: it would move keys between partitions). ``BrokerProbe`` asks a
bootstrap server for its API versions every second with a short deadline, so
readiness goes false within seconds when the broker stops answering (down,
paused, partitioned), whatever the clients' own, longer, retry timers do.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from monitor.errors import BusError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    retention_ms: int


def ensure_topics(servers: Sequence[str], specs: Sequence[TopicSpec]) -> list[str]:
    """Create the missing topics; return one message per existing topic whose
    settings differ from ``specs``. Raises :class:`BusError` when the broker
    cannot be asked."""
    try:
        admin = KafkaAdminClient(bootstrap_servers=list(servers), client_id="newsmon-admin")
    except KafkaError as exc:
        raise BusError(f"kafka admin: cannot reach {','.join(servers)}: {exc}") from exc
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        for spec in missing:
            _create(admin, spec)
        return _differences(admin, [s for s in specs if s.name in existing])
    except KafkaError as exc:
        raise BusError(f"kafka admin: topic setup failed: {exc}") from exc
    finally:
        admin.close()


def _create(admin: KafkaAdminClient, spec: TopicSpec) -> None:
    topic = NewTopic(
        spec.name,
        spec.partitions,
        spec.replication_factor,
        topic_configs={"retention.ms": str(spec.retention_ms)},
    )
    try:
        admin.create_topics([topic])
    except TopicAlreadyExistsError:  # another daemon made it first
        return
    log.info(
        "topic_created topic=%s partitions=%d replication_factor=%d retention_ms=%d",
        spec.name, spec.partitions, spec.replication_factor, spec.retention_ms,
    )  # fmt: skip


def _differences(admin: KafkaAdminClient, specs: Sequence[TopicSpec]) -> list[str]:
    if not specs:
        return []
    by_name = {s.name: s for s in specs}
    problems = []
    for topic in admin.describe_topics(list(by_name)):
        spec = by_name[topic["name"]]
        partitions = topic.get("partitions") or []
        replicas = len(partitions[0].get("replica_nodes") or []) if partitions else 0
        if len(partitions) != spec.partitions:
            problems.append(
                f"topic {spec.name} has {len(partitions)} partitions, config says"
                f" {spec.partitions} (kept as is: changing it moves keys between partitions)"
            )
        if replicas and replicas != spec.replication_factor:
            problems.append(
                f"topic {spec.name} has replication factor {replicas}, config says"
                f" {spec.replication_factor}"
            )
    return problems


def _api_versions_request(correlation_id: int) -> bytes:
    client = b"newsmon-probe"
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client)) + client
    return struct.pack(">i", len(body)) + body


def probe(servers: Sequence[str], timeout: float) -> bool:
    """Whether one bootstrap server answers an ApiVersions request within ``timeout``."""
    for server in servers:
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout) as sock:
                sock.settimeout(timeout)
                sock.sendall(_api_versions_request(7))
                head = sock.recv(8)
                if len(head) == 8 and struct.unpack(">ii", head)[1] == 7:
                    return True
        except (OSError, ValueError):
            continue
    return False


class BrokerProbe(threading.Thread):
    """Probes the broker every ``interval`` seconds; ``ok`` is the latest answer."""

    def __init__(self, servers: Sequence[str], interval: float = 1.0, timeout: float = 2.0):
        super().__init__(name="newsmon-kafka-probe", daemon=True)
        self.servers = tuple(servers)
        self.interval = interval
        self.timeout = timeout
        self.ok = True
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            ok = probe(self.servers, self.timeout)
            if ok != self.ok:
                log.log(
                    logging.INFO if ok else logging.WARNING,
                    "broker_%s servers=%s", "reachable" if ok else "unreachable",
                    ",".join(self.servers),
                )  # fmt: skip
            self.ok = ok
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
