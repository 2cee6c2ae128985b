"""Composing one YAML document safely: bounded in size and in alias expansion, fast.

:func:`compose` turns a file's text into its node tree (every node keeps its line)
with PyYAML's safe resolver, parsed by libyaml when PyYAML has it (several times
faster than PyYAML's pure-Python parser, which is the fallback). Two bounds keep a
hostile or mistaken file from hanging ``newsmon check``, startup or a rule reload:

- the file's size: :data:`MAX_FILE_BYTES` (8 MiB) per file, checked before the text
  is read (:meth:`~monitor.config.yamlfile.YamlFile.read`; docs/rules.md says why);
- alias expansion: an alias (``*name``) stands for the whole node its anchor
  (``&name``) marks, and anchors may hold aliases, so nine lines of nine aliases
  each expand to 9**9 nodes ("billion laughs"). The composer counts, as it goes,
  how many nodes the aliases add to a walk of the tree; past
  :data:`MAX_ALIAS_NODES` the document is refused with an :class:`AliasError` at
  the alias that went over. An alias inside its own anchor (a document that
  contains itself) is refused the same way.

And one cost is avoided: composing and walking a large tree makes millions of
objects that all live on, and every full cyclic collection walks them all again
(85 % of the time libyaml took to compose a 10 MiB rule file). :func:`gc_paused`
holds the collector off while a file is read; reference counting still frees
everything it can.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.events import AliasEvent
from yaml.resolver import Resolver

MAX_FILE_BYTES = 8 * 2**20  # 8 MiB per file; see docs/rules.md for why
MAX_ALIAS_NODES = 100_000  # nodes that aliases may add to one document


class AliasError(ComposerError):
    """An alias that expands the document past the budget, or into itself."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(None, None, message, mark)
        self.message = message


class _Counting(Composer):
    """PyYAML's composer, counting the nodes each alias adds as it composes."""

    alias_budget = MAX_ALIAS_NODES
    peek_event: Any  # the parser's, beside this class in a loader

    def __init__(self) -> None:
        super().__init__()
        self._visited = 0  # nodes composed so far, each alias counted as its expansion
        self._added = 0  # nodes added by aliases
        self._sizes: dict[str, int] = {}  # anchor -> the size of its node, expanded

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            self._count_alias(event)
            return super().compose_node(parent, index)
        before = self._visited
        node = super().compose_node(parent, index)
        self._visited += 1
        if event.anchor is not None:
            self._sizes[event.anchor] = self._visited - before
        return node

    def _count_alias(self, event: AliasEvent) -> None:
        name = event.anchor
        if name is None or name not in self.anchors:
            return  # PyYAML reports the undefined alias
        at = self.anchors[name].start_mark.line + 1
        size = self._sizes.get(name)
        if size is None:
            raise AliasError(
                f"alias *{name} is inside the node its anchor &{name} (line {at}) marks:"
                " a value cannot contain itself",
                event.start_mark,
            )
        self._visited += size
        self._added += size
        if self._added > self.alias_budget:
            raise AliasError(
                f"alias *{name} expands to {size:,} nodes (anchor &{name} at line {at}),"
                f" taking the document past {self.alias_budget:,} nodes added by aliases;"
                " aliases of aliases grow exponentially: write the values out, or use fewer",
                event.start_mark,
            )


class PureLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, _Counting,
                 Resolver):  # fmt: skip
    """The pure-Python parser under the counting composer."""

    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        _Counting.__init__(self)
        Resolver.__init__(self)


LOADER: type[Any] = PureLoader
try:  # libyaml's parser, if this PyYAML was built with it
    from yaml._yaml import CParser
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    pass
else:

    class FastLoader(_Counting, CParser, Resolver):
        """libyaml's parser under the counting composer (the composer comes first
        in the method order, so libyaml's own composer is never used)."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            _Counting.__init__(self)
            Resolver.__init__(self)

    LOADER = FastLoader


def compose(text: str, loader: type[Any] | None = None) -> yaml.Node | None:
    """The document's root node (None for an empty document); yaml.YAMLError
    (an :class:`AliasError` among them) when the text is not a usable document."""
    parser = (loader or LOADER)(text)
    try:
        root: yaml.Node | None = parser.get_single_node()
        return root
    finally:
        parser.dispose()


_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (nestable, across threads); afterwards
    the collector is as it was before the outermost one."""
    global _gc_holders, _gc_was_enabled
    with _gc_lock:
        if _gc_holders == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                gc.enable()
