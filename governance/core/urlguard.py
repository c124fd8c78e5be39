"""SSRF defence for outbound HTTP (webhooks, audit witnesses): resolve once, refuse internal, pin.

A URL is accepted only if it is http(s), carries no credentials, and every address its host
resolves to is a public unicast address, unless an allowlist entry names the host or address
(optionally with a port). The caller then connects to the one pinned address, so a second DNS
answer (rebinding) can never redirect the request.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from governance.core.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata services, refused by name as well as by address.
METADATA_NAMES = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "metadata.azure.com"}
)
# Ranges that translate to or embed IPv4 (NAT64, 6to4, Teredo) or are otherwise never a webhook.
_BLOCKED: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "224.0.0.0/3",
        "::ffff:0:0/96", "::/96", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32",
        "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "fd00:ec2::254/128",
    )
)  # fmt: skip
_NUMERIC_HOST = re.compile(r"^[0-9a-fx.]+$", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class UrlRefused(InvalidInput):
    """A webhook URL that Steward will not connect to."""

    code = "url_refused"


class Resolver(Protocol):
    """Turns a host name into addresses (once per delivery)."""

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address ``host`` resolves to; OSError when it does not resolve."""
        ...


class SystemResolver:
    """The operating system's resolver (getaddrinfo)."""

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address of ``host``, in resolver order, without duplicates."""
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        seen: dict[IPAddress, None] = {}
        for info in infos:
            seen[ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])] = None
        return list(seen)


class MapResolver:
    """A fixed table of names (tests, air-gapped setups); unknown names do not resolve."""

    def __init__(self, table: Mapping[str, Sequence[str]]) -> None:
        self._table = {k.lower(): [ipaddress.ip_address(a) for a in v] for k, v in table.items()}

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """The listed addresses of ``host``."""
        found = self._table.get(host.lower())
        if found is None:
            raise OSError(f"{host}: name does not resolve")
        return list(found)


@dataclass(frozen=True, slots=True)
class _Entry:
    host: str | None
    network: Network | None
    port: int | None


class Allowlist:
    """Hosts, addresses or CIDR ranges (each optionally ``:port``) exempt from the address rules."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.entries = [_parse_entry(e) for e in entries if e.strip()]

    def allows(self, host: str, ip: IPAddress | None, port: int) -> bool:
        """Whether an entry names this host or address (and port, when the entry has one)."""
        for entry in self.entries:
            if entry.port is not None and entry.port != port:
                continue
            if entry.host is not None and entry.host == host:
                return True
            if entry.network is not None and ip is not None and ip in entry.network:
                return True
        return False


def _parse_entry(text: str) -> _Entry:
    text = text.strip().lower()
    port: int | None = None
    match = re.fullmatch(r"\[(.+)\](?::(\d+))?", text)
    if match:
        text, port = match.group(1), int(match.group(2)) if match.group(2) else None
    elif text.count(":") == 1:
        text, _, digits = text.partition(":")
        port = int(digits)
    try:
        return _Entry(host=None, network=ipaddress.ip_network(text, strict=False), port=port)
    except ValueError:
        return _Entry(host=text.rstrip("."), network=None, port=port)


def is_public(ip: IPAddress) -> bool:
    """Whether ``ip`` is a global unicast address outside every internal or translated range."""
    if any(ip in net for net in _BLOCKED if net.version == ip.version):
        return False
    internal = (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified
    )  # fmt: skip
    return ip.is_global and not internal


def literal_ip(host: str) -> IPAddress | None:
    """The address a host literal denotes, including decimal, octal, hex and short IPv4 forms."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host):
        try:
            # inet_aton reads every legacy form browsers and curl accept: 2130706433, 0x7f.1, 0177.1
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


@dataclass(frozen=True, kw_only=True, slots=True)
class Destination:
    """A checked URL and the one address to connect to."""

    scheme: str
    host: str
    port: int
    target: str
    ip: IPAddress

    @property
    def pinned_url(self) -> str:
        """The URL with its host replaced by the pinned address."""
        host = f"[{self.ip}]" if self.ip.version == 6 else str(self.ip)
        return f"{self.scheme}://{host}:{self.port}{self.target}"

    @property
    def host_header(self) -> str:
        """The Host header the server expects."""
        name = f"[{self.host}]" if ":" in self.host else self.host
        default = _DEFAULT_PORTS[self.scheme] == self.port
        return name if default else f"{name}:{self.port}"


def _split(url: str) -> tuple[str, str, int, str]:
    if len(url) > 2048 or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise UrlRefused("webhook URL is malformed")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("webhook URL is malformed") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UrlRefused("webhook URLs must use http or https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UrlRefused("webhook URLs may not carry credentials")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UrlRefused("webhook URL has no host")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or _DEFAULT_PORTS[scheme], target


def check_url(url: str, *, allow: Allowlist, resolver: Resolver) -> Destination:
    """Resolve ``url``'s host once and return the address to connect to, or raise UrlRefused."""
    scheme, host, port, target = _split(url)
    literal = literal_ip(host)
    if host in METADATA_NAMES and not allow.allows(host, None, port):
        raise UrlRefused("webhook URL names a cloud metadata service")
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = resolver.resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise UrlRefused(f"webhook host {host!r} does not resolve") from exc
    if not addresses:
        raise UrlRefused(f"webhook host {host!r} does not resolve")
    for ip in addresses:
        if not is_public(ip) and not allow.allows(host, ip, port):
            raise UrlRefused(f"webhook host {host!r} resolves to a non-public address")
    return Destination(scheme=scheme, host=host, port=port, target=target, ip=addresses[0])


def check_static(url: str, *, allow: Allowlist) -> None:
    """Refuse at configuration time what no resolution can make acceptable (literal addresses)."""
    _, host, port, _ = _split(url)
    literal = literal_ip(host)
    if host in METADATA_NAMES and not allow.allows(host, None, port):
        raise UrlRefused("webhook URL names a cloud metadata service")
    if literal is not None and not is_public(literal) and not allow.allows(host, literal, port):
        raise UrlRefused("webhook URL points at a non-public address")
