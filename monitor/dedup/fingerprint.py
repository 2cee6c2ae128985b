"""Story keys: pure functions of an item.

Foundation version: an item's story is its canonical link (the same article
carried by several feeds is one story), else its feed and id. The stories
issue adds near-duplicate clustering on top.
"""

from __future__ import annotations

import hashlib

from monitor.model import Item


def story_id(item: Item) -> str:
    basis = f"link\0{item.link}" if item.link else f"item\0{item.feed_url}\0{item.id}"
    return hashlib.sha256(basis.encode()).hexdigest()[:20]
