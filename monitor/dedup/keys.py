"""The copy tier's exact keys (pure): what makes two items one article, across feeds.

* the **link**, folded to one form per article (:func:`link_key`): ``http`` and
  ``https``, a ``www.`` host and the bare one, and the AMP forms publishers serve beside
  the article: an ``amp.`` host (``amp.theguardian.com``), an ``/amp/`` path segment
  (``/news/amp/1915985/...``), an ``/amp`` or ``.amp`` ending, ``amp_articleshow``
  (``/articleshow/``), and the query parameters that ask for it (``outputType=amp``,
  ``amp=1``, ``amp``, ``_amp=true``). The sources stage keeps the link as the feed gave
  it (what an alert links to); only the key is folded.
* the **GUID**, when it is globally unique (a URL, a URN or tag URI, or a long opaque
  id); a short one (``"1234"``) is unique only within its feed, so it is keyed by feed.
* the feed and item id (the same entry seen again).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit

from monitor.model import Item

_AMP_QUERY = frozenset({"outputtype", "amp", "_amp", "amp_js_v", "usqp"})
_AMP_VALUES = frozenset({"amp", "1", "true", "yes", ""})
# a link with no user, port, query or fragment, and nothing urlsplit strips or splits on
_SIMPLE = re.compile(r"https?://([A-Za-z0-9.-]+)(/[^?#\t\r\n]*)?\Z", re.I)


@lru_cache(maxsize=4096)
def link_key(link: str) -> str:
    """The article a link is: scheme, ``www.`` and AMP forms folded (remembered for the
    last links: a decision, its member's keys and its stored row each ask)."""
    if simple := _SIMPLE.match(bare := link.strip()):  # most: what urlsplit finds, at a fifth
        host, path, query = simple[1].lower(), simple[2] or "", ""
    else:
        try:
            parts = urlsplit(bare)
            port = parts.port
        except ValueError:  # not a URL (or its port is no number): the link is its own key
            return link
        host, path, query = (parts.hostname or "").lower(), parts.path, parts.query
        if port and port not in (80, 443):
            host = f"{host}:{port}"
    for prefix in ("www.", "amp."):
        host = host.removeprefix(prefix)
    segments = [s for s in path.split("/") if s and s.lower() != "amp"]
    if segments:
        last = segments[-1]
        for ending in (".amp", "-amp", "_amp"):
            if last.lower().endswith(ending) and len(last) > len(ending):
                segments[-1] = last[: -len(ending)]
        segments = ["articleshow" if s == "amp_articleshow" else s for s in segments]
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
             if not (k.lower() in _AMP_QUERY and v.lower() in _AMP_VALUES)
             ] if query else []  # fmt: skip
    path = "/".join(segments)
    return f"{host}/{path}" + (f"?{urlencode(kept)}" if kept else "")


def exact_keys(item: Item) -> tuple[str, ...]:
    """Keys that make two items the same article, across feeds (hashed, fixed length)."""
    keys = []
    if item.link:
        keys.append("link:" + link_key(item.link))
    if item.guid:
        guid = item.guid.strip()
        if guid.lower().startswith(("http://", "https://")):
            keys.append("link:" + link_key(guid))  # a permalink GUID is the article's link
        keys.append(("guid:" if _global_guid(guid) else f"guid:{item.feed_url}\0") + guid)
    keys.append(f"item:{item.feed_url}\0{item.id}")
    return tuple(dict.fromkeys(hashlib.sha256(k.encode()).hexdigest()[:24] for k in keys))


def story_id(item: Item) -> str:
    """A new story's id: stable for the article (its link key, else its feed and id)."""
    basis = f"link\0{link_key(item.link)}" if item.link else f"item\0{item.feed_url}\0{item.id}"
    return hashlib.sha256(basis.encode()).hexdigest()[:20]


def _global_guid(guid: str) -> bool:
    low = guid.lower()
    return low.startswith(("http://", "https://", "urn:", "tag:")) or len(guid) >= 24
