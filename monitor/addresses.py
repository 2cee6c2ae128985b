"""The SSRF address policy: which addresses a fetch may connect to. Pure.

Public unicast addresses are allowed; loopback, private (RFC 1918, fc00::/7),
link-local (169.254.0.0/16, fe80::/10), CGNAT (100.64.0.0/10), multicast,
unspecified, reserved and documentation ranges are not. IPv4 embedded in IPv6
(``::ffff:a.b.c.d``, 6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``) is judged by the
embedded IPv4 address. An allowlist opens networks, optionally on one port only::

    127.0.0.1/32    127.0.0.1:8080    [::1]:8080    10.0.0.0/8    [fd00::/8]:443
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # local use (RFC 8215): never public


@dataclass(frozen=True, slots=True)
class Allowed:
    """One allowlist entry: a network, and the one port it is open on (None: any)."""

    network: IPNetwork
    port: int | None = None

    def admits(self, ip: IPAddress, port: int) -> bool:
        return ip in self.network and (self.port is None or self.port == port)


def parse_allowlist(entries: Iterable[str]) -> tuple[Allowed, ...]:
    """Parse ``allow_networks``; a ValueError names every bad entry."""
    rules: list[Allowed] = []
    problems: list[str] = []
    for entry in entries:
        try:
            rules.append(parse_allowed(entry))
        except ValueError as exc:
            problems.append(f"{entry!r}: {exc}")
    if problems:
        raise ValueError("bad allow_networks entry: " + "; ".join(problems))
    return tuple(rules)


def parse_allowed(entry: str) -> Allowed:
    """``CIDR``, ``address``, ``v4[/len]:port`` or ``[v6[/len]]:port``."""
    text, port = entry.strip(), None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError("expected [IPv6] or [IPv6]:port")
        port = _port(rest[1:]) if rest else None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text)
    else:
        host = text
    try:
        network = ipaddress.ip_network(host)
    except ValueError as exc:
        raise ValueError(f"not an address or network ({exc})") from None
    return Allowed(network, port)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"bad port {text!r}")
    return int(text)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """True when ``ip`` is a public unicast address (judging embedded IPv4 too)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL or ip.is_site_local:
            return False
        v4 = embedded_ipv4(ip)
        if v4 is not None:  # the IPv6 range itself is reserved (mapped, NAT64) or a relay
            return is_public(v4)
    elif ip in _CGNAT:
        return False
    return _plain(ip)


def _plain(ip: IPAddress) -> bool:
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_reserved
    )


def is_allowed(ip: IPAddress, port: int, allow: tuple[Allowed, ...] = ()) -> bool:
    """May a fetch connect to ``ip`` on ``port``? ``::ffff:a.b.c.d`` counts as a.b.c.d."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(rule.admits(ip, port) for rule in allow) or is_public(ip)
