"""Entities of a rule pack: the name a desk follows and every way the press writes it.

An entity is read from its YAML mapping (``name``, ``aliases``, ``weak``,
``variants``, ``fuzzy``; see :mod:`monitor.rules.load`) into an :class:`Entity`
whose ``aliases`` are every form but the name: strong aliases, weak ones, and
each variant glued to every form that ends in a number (``F-35`` + ``A``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from monitor.config import values
from monitor.config import yamlfile as yf
from monitor.rules.query import Form
from monitor.rules.text import is_designator, tokens


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    aliases: tuple[Form, ...] = ()  # every form but the name, variants included
    fuzzy: bool | float = True  # False: never fuzzy; a number: its threshold
    file: str = ""
    line: int = 0


def _fuzzy_setting(value: Any) -> bool | float:
    if isinstance(values.plain(value), bool) or str(values.plain(value)).lower() in ("on", "off"):
        return values.boolean(value)
    result: float = values.real(50, 100)(value)
    return result


ENTITY: dict[str, values.Conv] = {
    "name": values.string,
    "aliases": values.strings,
    "weak": values.strings,
}
ENTITY |= {"variants": values.strings, "fuzzy": _fuzzy_setting}


def add_entity(f: yf.YamlFile, node: yaml.Node, entities: dict[tuple[str, ...], Entity]) -> None:
    data = f.fields(node, "entity", ENTITY)
    if "name" not in data:
        if isinstance(node, yaml.MappingNode):
            f.problem(yf.line(node), "entity needs a 'name'")
        return
    name = data["name"].strip()
    strong = [name, *data.get("aliases", ())]
    forms = [Form(a) for a in strong[1:]] + [Form(w, weak=True) for w in data.get("weak", ())]
    for variant in data.get("variants", ()):
        forms += [Form(f"{t}{variant}") for t in strong if _ends_in_number(t)]
    for form in (Form(name), *forms):
        if not tokens(form.text):
            f.problem(yf.line(node), f"entity {name!r}: {form.text!r} has no letters or digits")
            return
    key = tokens(name)
    if (other := entities.get(key)) is not None:
        f.problem(yf.line(node), f"entity {name!r} already defined at {other.file}:{other.line}")
        return
    entities[key] = Entity(name, tuple(forms), data.get("fuzzy", True), f.file, yf.line(node))


def _ends_in_number(text: str) -> bool:
    words = tokens(text)
    return bool(words) and is_designator(words[-1])
