"""The SSRF guard at name resolution: a resolver that drops the addresses the
allow-list refuses (``monitor.addresses``), for every hop of every fetch."""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache

from aiohttp.abc import AbstractResolver, ResolveResult

from monitor.addresses import Allowed, is_allowed
from monitor.errors import BlockedAddress


class GuardedResolver(AbstractResolver):
    """Resolves through ``inner`` and drops the addresses the SSRF policy refuses;
    raises :class:`BlockedAddress` when none is left. aiohttp calls it for host
    names only: IP literals are checked by :meth:`Fetcher._check_hop`."""

    def __init__(self, inner: AbstractResolver, allow: tuple[Allowed, ...]) -> None:
        self._inner = inner
        self._allow = allow

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        kept = [r for r in found if admits(r["host"], r["port"], self._allow)]
        if not kept:
            addresses = ", ".join(sorted({r["host"] for r in found}))
            raise BlockedAddress(f"{host}:{port} resolves to {addresses}")
        return kept

    async def close(self) -> None:
        await self._inner.close()


@lru_cache(maxsize=4096)
def admits(host: str, port: int, allow: tuple[Allowed, ...]) -> bool:
    try:
        return is_allowed(ipaddress.ip_address(host), port, allow)
    except ValueError:  # not an address we can judge: refuse
        return False
