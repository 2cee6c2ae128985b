"""Scale-out on Kafka (issue 11): the roles N daemons share through consumer groups.

Kafka is the distributed engine; SQLite is each owner's local view. Every piece of
shared state lives in a compacted topic (its changelog); the daemon that owns a
partition keeps the existing store/outbox/StoryBook code as a local materialised
view, rebuilt from that partition of the changelog when it is assigned, and writes
every change back. Roles, each a consumer group ``<group_id>.<stage>``:

* feeds (``feeds*.py``): ``<prefix>.feeds`` keyed by feed URL, each feed polled by one
  daemon, its state (validators, schedule, seen ids) restored by the next owner;
* stories (``stories*.py``): ``<prefix>.matches`` keyed by desk, one owner per desk,
  its decisions committed with its input offsets in one Kafka transaction;
* delivery (``delivery*.py``): ``<prefix>.outbox`` keyed by receiver, one owner per
  receiver, its retry state in ``<prefix>.deliveries``;
* silences (``silences.py``): ``<prefix>.silences``, read whole by every daemon.

This package sits above ``monitor.alerting`` (it runs the stories stage) and below
``monitor.app`` (which builds it in kafka mode only).
"""
