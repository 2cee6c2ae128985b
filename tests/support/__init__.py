"""Test support shared by every test module: one config builder (:mod:`.config`),
record factories (:mod:`.records`), the real ``newsmon`` command and a running
daemon (:mod:`.daemon`), and free ports (:mod:`.net`). Real servers that stand in
for feeds and receivers live beside: ``feedserver``, ``alerts/standins``."""
