"""A rule's labels, read from their YAML node: text names to text values.

YAML 1.1 reads ``urgent: yes`` as true, ``desk: null`` and ``desk:`` as no value
and ``010`` as 8, so a route matching ``urgent="yes"`` would never see it: each
such name or value is refused at its own line, saying how YAML read it and how
to quote it.
"""

from __future__ import annotations

import yaml

from monitor.config import values
from monitor.config import yamlfile as yf

_STR = "tag:yaml.org,2002:str"


def labels(f: yf.YamlFile, node: yaml.Node, label: str) -> tuple[tuple[str, str], ...]:
    """A rule's labels from their node: string names to string values, each
    other value reported at its own line with how YAML read it."""
    if not isinstance(node, yaml.MappingNode):
        f.problem(yf.line(node), f"{label}: labels: expected a mapping of label names to "
                                f"values, got a {yf.kind(node)}")  # fmt: skip
        return ()
    out: dict[str, str] = {}
    for knode, vnode in node.value:
        if not is_text(knode):
            f.problem(yf.line(knode), f"{label}: label name {_reading(knode)}; quote it")
        elif knode.value in out:
            f.problem(yf.line(knode), f"{label}: label {knode.value!r} given twice")
        elif not isinstance(vnode, yaml.ScalarNode):
            f.problem(yf.line(vnode), f"{label}: label {knode.value!r}: expected a text value, "
                                     f"got a {yf.kind(vnode)}")  # fmt: skip
        elif not vnode.value and not is_text(vnode):
            f.problem(yf.line(vnode), f"{label}: label {knode.value!r} has no value; "
                                     f"write {knode.value}: \"...\"")  # fmt: skip
        elif not is_text(vnode):
            f.problem(yf.line(vnode), f"{label}: label {knode.value!r}: value {_reading(vnode)}; "
                                     f"quote it: {knode.value}: \"{vnode.value}\"")  # fmt: skip
        elif (value := f.expand(vnode.value, yf.line(vnode))) is not values.MISSING:
            out[knode.value] = str(values.plain(value))
    return tuple(sorted(out.items()))


def is_text(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _STR


def _reading(node: yaml.Node) -> str:
    """How YAML reads a node that is not a string, for a message."""
    if not isinstance(node, yaml.ScalarNode):
        return f"is a {yf.kind(node)}, not text"
    try:
        value = yaml.constructor.SafeConstructor().construct_object(node)
    except yaml.YAMLError:
        return f"{node.value!r} is not text"
    if isinstance(value, bool):
        shown = "true" if value else "false"
    else:
        shown = "null (no value)" if value is None else f"the {type(value).__name__} {value!r}"
    return f"{node.value!r} is read as {shown}, not as text"
