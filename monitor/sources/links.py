"""Item links -> their canonical form (pure): http(s) only, resolved against the
feed, lower-case scheme and host, no default port, no tracking parameters, no
fragment unless asked. Called for every entry of every body parsed, so the common
shape (an absolute, plain ASCII URL) and repeated links (the same items in the
next poll's body) are answered without the general path, to the same result.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

from w3lib.url import safe_url_string, url_query_cleaner

__all__ = ["TRACKING_PARAMS", "TRACKING_PREFIXES", "canonical_link"]

TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid",
        "yclid", "_hsenc", "_hsmi", "igshid", "ref_src", "ref_url", "mkt_tok", "_ga",
        "oly_anon_id", "oly_enc_id", "vero_id", "spm", "cmpid", "ncid", "ocid",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "__hs")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# absolute, lower-case host (no IDNA label), no port, query, fragment or escape:
# canonical as it is, unless it has a dot segment ("/." anywhere)
_PLAIN = re.compile(
    r"https?://(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"/[A-Za-z0-9_~+,;=@!$*()/:.-]*"
)


def canonical_link(raw: str | None, *, base: str = "", fragment: bool = False) -> str | None:
    """The canonical http(s) form of ``raw`` (resolved against ``base``), else None.

    Lower-cases scheme and host, drops the default port, known tracking
    parameters and (unless ``fragment``) the fragment, keeps every other query
    parameter in its order."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if _PLAIN.fullmatch(raw) and "/." not in raw and "--" not in raw.split("/", 3)[2]:
        return raw
    return _canonical(raw, base, fragment)


@lru_cache(maxsize=32_768)
def _canonical(raw: str, base: str, fragment: bool) -> str | None:
    try:
        url = safe_url_string(urljoin(base, raw) if base else raw)
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            return None
        kept = parts.fragment if fragment else ""
        drop = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True) if _is_tracking(k)]
        parts = urlsplit(url_query_cleaner(url, drop, remove=True, unique=False))
        netloc = parts.netloc
        if parts.port == _DEFAULT_PORTS[parts.scheme]:
            netloc = netloc.rsplit(":", 1)[0]
    except ValueError:  # bad port, bad IPv6 literal, bad IDNA label
        return None
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, kept))


def _is_tracking(key: str) -> bool:
    key = key.lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)
