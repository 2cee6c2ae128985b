"""The metrics of the bus and of scale-out on Kafka (``monitor.bus``, ``monitor.cluster``):
queue depth and lag, dead letters, publish retries, partitions owned, takeovers,
aborted transactions, rebuilt clients. :class:`~monitor.metrics.Metrics` builds them
on its registry with the rest."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

CLUSTER_ROLES = ("feeds", "stories", "delivery")
# the clients the Kafka bus rebuilds
BUS_CLIENTS = ("producer", "consumer")

# seconds: a partition handed over cleanly ... a big window rebuilt on a loaded machine
_TAKEOVER_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300)


class BusMetrics:
    registry: CollectorRegistry

    def _bus(self) -> None:
        r = self.registry
        self.bus_depth = Gauge(
            "newsmon_bus_queue_depth",
            "Messages this process published to a topic and its stage has not yet acked",
            ["topic"],
            registry=r,
        )
        self.bus_dead_letters = Counter(
            "newsmon_bus_dead_letters_total",
            "Records a stage could not read or handle, by reason (undecodable, unknown_schema,"
            " handler_error); kafka: sent to the dead-letter topic, memory: logged",
            ["topic", "reason"],
            registry=r,
        )
        self.bus_consumer_lag = Gauge(
            "newsmon_bus_consumer_lag_messages",
            "Messages of a topic its stage has not finished (kafka: end offsets less where the"
            " stage would resume, over the partitions this process holds; memory: the topic's"
            " queue depth, at most its capacity)",
            ["topic", "stage"],
            registry=r,
        )
        self.bus_publish_retries = Counter(
            "newsmon_bus_publish_retries_total",
            "Publishes retried because the broker did not take them",
            ["topic"],
            registry=r,
        )
        self.bus_queue_capacity = Gauge(
            "newsmon_bus_queue_capacity_messages",
            "Memory bus: messages a topic's queue holds before publishers wait, the ceiling"
            " of its depth and lag (not exported on kafka, whose topics have none)",
            ["topic"],
            registry=r,
        )

    # -- scale-out on Kafka (monitor/cluster: the feeds, stories, delivery and silences roles)

    def _cluster(self) -> None:
        r = self.registry
        self.cluster_feeds_owned = Gauge(
            "newsmon_cluster_feeds_owned",
            "Feeds this daemon polls now: those of the feeds partitions the group gave it"
            " (kafka; every feed on the memory bus)", registry=r,
        )  # fmt: skip
        self.cluster_partitions_owned = Gauge(
            "newsmon_cluster_partitions_owned",
            "Partitions of a role's input topic this daemon owns (kafka; feeds, stories, delivery)",
            ["role"],
            registry=r,
        )
        self.cluster_takeovers = Counter(
            "newsmon_cluster_takeovers_total",
            "Partitions this daemon took over and rebuilt the state of, by role",
            ["role"],
            registry=r,
        )
        self.cluster_takeover_seconds = Histogram(
            "newsmon_cluster_takeover_seconds",
            "From a partition's assignment to serving it (its state rebuilt from Kafka)",
            ["role"], buckets=_TAKEOVER_BUCKETS, registry=r,
        )  # fmt: skip
        self.cluster_transaction_aborts = Counter(
            "newsmon_cluster_transaction_aborts_total",
            "Kafka transactions aborted (the state rebuilt or the batch tried again), by role",
            ["role"],
            registry=r,
        )
        self.cluster_topic_mismatch = Gauge(
            "newsmon_cluster_topic_mismatch",
            "1 while a bus or role topic is missing or has another partition count than"
            " bus.partitions (checked after every reconnect; /readyz is not ready), else 0",
            ["topic"],
            registry=r,
        )
        self.bus_client_rebuilds = Counter(
            "newsmon_bus_client_rebuilds_total",
            "Kafka clients closed and opened again because they could not recover by"
            " themselves (a fatal state, or failing while the broker answers)",
            ["client"], registry=r,
        )  # fmt: skip
        self.deliveries_resent = Counter(
            "newsmon_deliveries_resent_total",
            "Sends that may repeat one a previous owner made: it began the send and died (or"
            " lost the receiver) before its outcome reached Kafka; the documented window",
            ["receiver"],
            registry=r,
        )
        for role in CLUSTER_ROLES:
            self.cluster_partitions_owned.labels(role)
            self.cluster_takeovers.labels(role)
            self.cluster_takeover_seconds.labels(role)
            self.cluster_transaction_aborts.labels(role)
        for client in BUS_CLIENTS:
            self.bus_client_rebuilds.labels(client)

    def init_roles(self, topics: Iterable[str]) -> None:
        """The bus topics (short names) whose mismatch series start at 0."""
        for topic in topics:
            self.cluster_topic_mismatch.labels(topic)
