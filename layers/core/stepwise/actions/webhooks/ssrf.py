"""The SSRF guard: a destination may only resolve to public addresses.

Every address a host resolves to is checked (after DNS, on every attempt), and the caller then
connects to a checked address, so a rebinding DNS answer cannot slip a private address in between.
Loopback is allowed only when the operator allows it (the local stack does).
"""

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from stepwise.core.errors import StepwiseError

Resolver = Callable[[str, int], list[str]]

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# IANA special-purpose ranges that no webhook receiver lives in, listed here rather than left to
# ``ipaddress``: its ``is_global`` changed between Python releases (3.11 takes 192.0.0.0/24 for
# global) and it does not know deprecated site-local IPv6.
_SPECIAL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",
        "2001::/23",  # IETF protocol assignments (Teredo among them)
        "2001:db8::/32",
        "fc00::/7",
        "fec0::/10",  # site-local, deprecated but still routed by some networks
    )
)
# Ports a destination may use: the web's own, and the unprivileged range. The well-known ports
# below 1024 (SSH, SMTP, DNS...) are other protocols, never a webhook receiver.
_WEB_PORTS = (80, 443)
_LOWEST_UNPRIVILEGED_PORT = 1024


class DestinationRefused(StepwiseError):
    """A destination URL the service will not call."""


@dataclass(frozen=True)
class Destination:
    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def check_url(
    url: str, allow_loopback: bool = False, resolve: Resolver = system_resolver
) -> Destination:
    """The destination with its checked addresses; DestinationRefused says why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise DestinationRefused(f"{url!r}: only http and https destinations are allowed")
    if parts.username or parts.password:
        raise DestinationRefused(f"{url!r}: credentials in the URL are not allowed")
    host = parts.hostname
    if not host:
        raise DestinationRefused(f"{url!r}: the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DestinationRefused(f"{url!r}: the port is not valid") from None
    if port not in _WEB_PORTS and port < _LOWEST_UNPRIVILEGED_PORT:
        raise DestinationRefused(
            f"{url!r}: port {port} is refused; use 80, 443 or a port from 1024 up"
        )
    try:
        addresses = resolve(host, port)
    except OSError as exc:
        raise DestinationRefused(f"{host!r} does not resolve: {exc}") from None
    if not addresses:
        raise DestinationRefused(f"{host!r} does not resolve")
    for address in addresses:
        reason = refusal(address, allow_loopback)
        if reason:
            raise DestinationRefused(
                f"{host!r} resolves to {address}, {reason}; refused by the SSRF guard"
            )
    return Destination(url, parts.scheme, host, port, tuple(addresses))


def refusal(address: str, allow_loopback: bool = False) -> str | None:
    """Why an address may not be called, or None if it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = (
            ip.ipv4_mapped
            or ip.sixtofour
            or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
        )
        if embedded is not None:
            return refusal(str(embedded), allow_loopback)
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "a carrier-grade NAT address"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "not a unicast address"
    if ip.is_private or not ip.is_global:
        return "a private address"
    if any(ip in network for network in _SPECIAL if network.version == ip.version):
        return "a special-purpose address"
    return None
