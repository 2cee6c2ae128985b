"""Kafka topic setup and the broker health probe (blocking: call off the event loop).

``ensure_topics`` creates the bus topics that are missing, with the partitions,
replication factor and retention of the config, and reports the ones that exist
with other settings: partitions, replication factor and ``retention.ms`` (a
shorter retention quietly shortens what ``newsmon replay --since`` can reach).
Nothing is changed behind the operator's back: a partition count change would
move keys between partitions, a retention change would delete or keep data.
A compacted topic (``TopicSpec.compact``: a changelog, one record kept per key)
is created with ``cleanup.policy=compact`` and keeps its records regardless of age.

``check_topics`` is the check that matters while running: a topic missing, or with
another partition count than the config's (the roles co-partition their topics:
a key must land in the same partition of each), is an error the bus reports as not
ready. ``BrokerProbe`` asks a bootstrap server for its API versions every second
with a short deadline, so readiness goes false within seconds when the broker stops
answering (down, paused, partitioned), whatever the clients' own, longer, retry
timers do; it runs the bus's topic check after every reconnect and every
``check_every`` seconds.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from monitor.errors import BusError

log = logging.getLogger(__name__)

UNKNOWN_TOPIC = 3  # the error code of UNKNOWN_TOPIC_OR_PARTITION in a metadata answer


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    retention_ms: int  # ignored when compact
    compact: bool = False  # cleanup.policy=compact: the last record of each key is kept


def _admin(servers: Sequence[str]) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(bootstrap_servers=list(servers), client_id="newsmon-admin")
    except KafkaError as exc:
        raise BusError(f"kafka admin: cannot reach {','.join(servers)}: {exc}") from exc


def ensure_topics(
    servers: Sequence[str], specs: Sequence[TopicSpec], *, partitions: bool = True
) -> list[str]:
    """Create the missing topics; return one message per existing topic whose
    settings differ from ``specs`` (the partition count too, unless ``partitions``
    is False: :func:`check_topics` reports it). Raises :class:`BusError` when the
    broker cannot be asked."""
    admin = _admin(servers)
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        for spec in missing:
            _create(admin, spec)
        return _differences(admin, [s for s in specs if s.name in existing], partitions)
    except KafkaError as exc:
        raise BusError(f"kafka admin: topic setup failed: {exc}") from exc
    finally:
        admin.close()


def check_topics(servers: Sequence[str], specs: Sequence[TopicSpec]) -> dict[str, str]:
    """Topic name -> what is wrong with it: missing, or another partition count than
    the spec's; empty when every topic is as configured. Raises :class:`BusError` when
    the broker cannot be asked."""
    admin = _admin(servers)
    try:
        found = {t["name"]: t for t in admin.describe_topics([s.name for s in specs])}
    except KafkaError as exc:
        raise BusError(f"kafka admin: topic check failed: {exc}") from exc
    finally:
        admin.close()
    problems = {}
    for spec in specs:
        topic = found.get(spec.name)
        error = 0 if topic is None else topic.get("error_code") or 0
        if error and error != UNKNOWN_TOPIC:
            continue  # e.g. no leader yet, the broker starting: asked again next time
        if topic is None or error:
            problems[spec.name] = (f"topic {spec.name} is missing (deleted while newsmon runs?"
                                   " it is created again on the next start)")  # fmt: skip
        elif (count := len(topic.get("partitions") or [])) != spec.partitions:
            problems[spec.name] = partitions_problem(spec, count)
    return problems


def partitions_problem(spec: TopicSpec, found: int) -> str:
    return (
        f"topic {spec.name} has {found} partitions, config says {spec.partitions} (kept as"
        " is: changing it moves keys between partitions; set bus.partitions to match, or"
        " re-create the topics with the config's count)"
    )


def _create(admin: KafkaAdminClient, spec: TopicSpec) -> None:
    configs = (  # a compacted topic's segments roll hourly: only a closed one compacts
        {"cleanup.policy": "compact", "segment.ms": "3600000"}
        if spec.compact
        else {"retention.ms": str(spec.retention_ms)}
    )
    topic = NewTopic(spec.name, spec.partitions, spec.replication_factor, topic_configs=configs)
    try:
        admin.create_topics([topic])
    except TopicAlreadyExistsError:  # another daemon made it first
        return
    log.info(
        "topic_created topic=%s partitions=%d replication_factor=%d %s",
        spec.name, spec.partitions, spec.replication_factor,
        "cleanup_policy=compact" if spec.compact else f"retention_ms={spec.retention_ms}",
    )  # fmt: skip


def _differences(
    admin: KafkaAdminClient, specs: Sequence[TopicSpec], check_partitions: bool = True
) -> list[str]:
    if not specs:
        return []
    by_name = {s.name: s for s in specs}
    problems = []
    for topic in admin.describe_topics(list(by_name)):
        spec = by_name[topic["name"]]
        partitions = topic.get("partitions") or []
        replicas = len(partitions[0].get("replica_nodes") or []) if partitions else 0
        if check_partitions and len(partitions) != spec.partitions:
            problems.append(
                f"topic {spec.name} has {len(partitions)} partitions, config says"
                f" {spec.partitions} (kept as is: changing it moves keys between partitions)"
            )
        if replicas and replicas != spec.replication_factor:
            problems.append(
                f"topic {spec.name} has replication factor {replicas}, config says"
                f" {spec.replication_factor}"
            )
    return problems + _retention_differences(admin, [s for s in specs if not s.compact])


def _retention_differences(admin: KafkaAdminClient, specs: Sequence[TopicSpec]) -> list[str]:
    if not specs:
        return []
    resources = [ConfigResource("TOPIC", s.name) for s in specs]
    try:  # "all": a retention set at creation may be reported as a default (Tansu)
        described = admin.describe_configs(resources, config_filter="all")
    except KafkaError as exc:
        names = ", ".join(s.name for s in specs)
        return [f"cannot check the retention of topics {names}: {exc}"]
    configs = described.get("topic", {}) if isinstance(described, dict) else {}
    problems = []
    for spec in specs:
        entry = (configs.get(spec.name) or {}).get("retention.ms") or {}
        try:
            found = int(entry["value"])
        except (KeyError, TypeError, ValueError):
            continue  # not reported: nothing to compare
        if (problem := retention_problem(spec, found)) is not None:
            problems.append(problem)
    return problems


def retention_problem(spec: TopicSpec, found_ms: int) -> str | None:
    """What to tell the operator when a topic keeps records ``found_ms`` (-1: forever)
    and the config says ``spec.retention_ms``; None when they agree."""
    if found_ms == spec.retention_ms:
        return None
    text = (
        f"topic {spec.name} has retention.ms {found_ms} ({duration(found_ms)}), config says"
        f" {spec.retention_ms} ({duration(spec.retention_ms)})"
    )
    if 0 <= found_ms < spec.retention_ms or spec.retention_ms < 0 <= found_ms:
        return (
            f"{text}: records older than {duration(found_ms)} are deleted, so `newsmon replay"
            " --since` reaches back no further (kept as is: raise it with kafka-configs.sh"
            " --alter --add-config retention.ms=...)"
        )
    return f"{text} (kept as is)"


def duration(ms: int) -> str:
    """``604800000`` -> ``7d``; ``-1`` -> ``forever``."""
    if ms < 0:
        return "forever"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms / 1000:g}s"


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
    """Probes the broker every ``interval`` seconds; ``ok`` is the latest answer. While
    it answers, ``check`` (if given) runs after each reconnect and every ``check_every``
    seconds, on this thread; what it raises is logged and it runs again next time."""

    def __init__(
        self, servers: Sequence[str], interval: float = 1.0, timeout: float = 2.0, *,
        check: Callable[[], None] | None = None, check_every: float = 15.0,
    ) -> None:  # fmt: skip
        super().__init__(name="newsmon-kafka-probe", daemon=True)
        self.servers = tuple(servers)
        self.interval = interval
        self.timeout = timeout
        self.ok = True
        self._check, self._check_every = check, check_every
        self._checked = time.monotonic()  # the bus checked its topics as it started
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
            back, self.ok = ok and not self.ok, ok
            due = time.monotonic() - self._checked >= self._check_every
            if self._check is not None and ok and (back or due):
                self._checked = time.monotonic()
                try:
                    self._check()
                except Exception as exc:  # BusError, or a bug: the next turn tries again
                    log.warning("topic_check_failed error=%s", exc)
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
