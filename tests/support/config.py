"""One builder for the newsmon.yaml a test runs with.

    write_config(tmp, feeds={"wire": url}, receivers=[file_receiver(tmp)],
                 schedule="{interval: 1s, min_interval: 1s}", extra="route: ...")

Every section is a YAML flow value written as given; what a test does not say
takes the defaults below: the bundled rule packs, a state file and an alerts file
in ``tmp``, fetches allowed to 127.0.0.1, a 5 s fetch timeout, no HTTP server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULES = f"['{ROOT}/rules/*.yaml']"


def file_receiver(tmp: Path, name: str = "desk-file", path: str = "alerts.jsonl") -> str:
    return f"{{name: {name}, kind: file, path: {tmp / path}}}"


def write_config(
    tmp: Path,
    feeds: Mapping[str, str] | Sequence[str] = (),
    *,
    rules: str = RULES,
    receivers: Sequence[str] | None = None,
    fetch: str = "{allow_networks: ['127.0.0.1/32'], timeout: 5s}",
    http: str = "{enabled: false}",
    state: str | None = None,
    extra: str = "",
    name: str = "newsmon.yaml",
    **sections: str,
) -> Path:
    """Write ``tmp/name`` and return its path. ``feeds`` is name -> URL, or a list of
    URLs and feed mappings (``"{url: ..., interval: 1h}"``);
    ``sections`` are further top-level sections (``schedule``, ``delivery``, ``bus`` ...)."""
    if isinstance(feeds, Mapping):
        entries = [f"  - {{url: '{url}', name: {n}}}" for n, url in feeds.items()]
    else:
        entries = [f"  - {url}" if url.startswith("{") else f"  - '{url}'" for url in feeds]
    lines = ["feeds:", *entries] if entries else []
    state = state or f"{{path: {tmp / 'state.db'}}}"
    lines += [f"rules: {rules}", f"state: {state}"]
    lines += [f"fetch: {fetch}", f"http: {http}"]
    lines += [f"{key}: {value}" for key, value in sections.items()]
    lines += ["receivers:", *(f"  - {r}" for r in (receivers or [file_receiver(tmp)]))]
    path = tmp / name
    path.write_text("\n".join([*lines, extra]) + "\n", encoding="utf-8")
    return path
