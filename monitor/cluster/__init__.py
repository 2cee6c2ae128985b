"""Scale-out on Kafka: N daemons with one config share the work through consumer groups.

Each role is a consumer group ``<group_id>.<role>``; its shared state lives in a compacted
topic (its changelog) and the daemon that owns a partition keeps a local view of it,
restored from that partition when it is assigned (Kafka Streams' state stores). No
home-made consensus: Kafka's group protocol decides who owns what.

1. feeds (:mod:`monitor.cluster.feeds`): ``<prefix>.feeds``, keyed by feed URL; a daemon
   polls the configured feeds whose key falls in a partition it owns, restoring each
   feed's state (validators, schedule, the ids of its last body) from the topic first.
2. rules: stateless, the bus's own consumer group on ``<prefix>.items``.
3. stories: ``<prefix>.matches`` keyed by desk; one owner per desk rebuilds the story
   window and the alerts decided from ``<prefix>.stories``.
4. delivery: ``<prefix>.outbox`` keyed by receiver; the owner sends and records each
   alert's state in ``<prefix>.deliveries``.
5. silences: ``<prefix>.silences``, read by every daemon.

The memory bus runs none of this: one daemon owns everything.
"""
