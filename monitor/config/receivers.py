"""The config's ``receivers:`` section: named receivers, each checked against the
options its kind (its sink) declares, when those are known::

    receivers:                              # absent -> one {name: console, kind: console}
      - {name: desk-file, kind: file, path: alerts.jsonl}
      - {name: slack-desk, kind: slack, url: "${SLACK_WEBHOOK_URL}", rate_limit: 20/m}

A receiver of an unknown kind is reported with a did-you-mean (``kind: flie``:
did you mean 'file'?); it stays in the settings so routes naming it check cleanly.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import yaml

from monitor.config import values
from monitor.config.routes import rate
from monitor.config.settings import ReceiverConfig, ReceiverSchema
from monitor.config.yamlfile import YamlFile, kind, line

# options every receiver takes, whatever its kind (used by monitor.alerts.deliver)
COMMON_RECEIVER_OPTIONS: dict[str, values.Conv] = {"rate_limit": rate}

Keys = dict[str, tuple[yaml.Node, yaml.Node]]


class ReceiverSection:
    """Reads ``receivers:``; ``schemas`` maps each known kind to its options (None:
    kinds and options are not checked here, the sinks check them later)."""

    def __init__(self, f: YamlFile, schemas: Mapping[str, ReceiverSchema] | None) -> None:
        self.f, self.schemas = f, schemas

    def read(self, entry: tuple[int, yaml.Node] | None) -> tuple[ReceiverConfig, ...]:
        f = self.f
        if entry is None:
            return (ReceiverConfig(name="console", kind="console", file=f.file),)
        if not isinstance(node := entry[1], yaml.SequenceNode):
            f.problem(line(node), f"receivers: expected a list, got a {kind(node)}")
            return ()
        out, names = [], dict[str, int]()
        for item in node.value:
            keys = {k: (kn, vn) for k, kn, vn in f.pairs(item, "receiver")}
            name, sink = (self.required(item, keys, key) for key in ("name", "kind"))
            if name in names:
                first = names[name]
                f.problem(line(item), f"duplicate receiver name {name!r} (first at line {first})")
            elif name is not values.MISSING:
                names[name] = line(item)
            if sink is not values.MISSING and self.schemas is not None:
                self.check(name if name is not values.MISSING else "?", sink, keys)
            options = {k: f.value(vn) for k, (_, vn) in keys.items() if k not in ("name", "kind")}
            if name is not values.MISSING and sink is not values.MISSING:
                out.append(
                    ReceiverConfig(name, sink, MappingProxyType(options), f.file, line(item))
                )
        return tuple(out)

    def required(self, item: yaml.Node, keys: Keys, key: str) -> Any:
        if key in keys:
            return self.f.convert(keys[key][1], values.string, f"receiver {key}")
        if isinstance(item, yaml.MappingNode):
            self.f.problem(line(item), f"receiver: needs {key!r}")
        return values.MISSING

    def check(self, name: str, sink: str, keys: Keys) -> None:
        """Check the options of a receiver of kind ``sink`` (an unknown kind is a problem)."""
        assert self.schemas is not None
        f, knode = self.f, keys["kind"][1]
        if (schema := self.schemas.get(sink)) is None:
            close = values.hint(sink, self.schemas)
            f.problem(line(knode), f"receiver {name!r}: unknown kind {sink!r}{close}")
            return
        for option in sorted(schema.required - keys.keys()):
            f.problem(line(knode), f"receiver {name!r}: kind {sink} needs option {option!r}")
        known = schema.required | schema.optional | COMMON_RECEIVER_OPTIONS.keys()
        convs = {**schema.convs, **COMMON_RECEIVER_OPTIONS}
        for key, (knode, vnode) in keys.items():
            if key in convs:
                f.convert(vnode, convs[key], f"receiver {name!r}: {key}")
            if key not in known | {"name", "kind"}:
                close = values.hint(key, known) if schema.required | schema.optional else ""
                message = f"unknown option {key!r} for kind {sink}{close}"
                f.problem(line(knode), f"receiver {name!r}: {message}")
