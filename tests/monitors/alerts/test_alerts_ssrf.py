"""SSRF: hostile webhook URLs are refused and a loopback canary never sees a connection."""

from __future__ import annotations

import ipaddress
import time
import uuid

import pytest

from governance.core.urlguard import (
    Allowlist,
    IPAddress,
    MapResolver,
    SystemResolver,
    UrlRefused,
    check_url,
    is_public,
)
from monitors.alerts.schemas import ChannelTarget
from monitors.alerts.webhook import WebhookSender
from tests.monitors.alerts.conftest import SECRET, Canary, Hook

# Names an attacker controls, resolving where the attacker wants.
HOSTILE_DNS = {
    "evil.example": ["127.0.0.1"],
    "rebind.example": ["93.184.216.34", "127.0.0.1"],
    "internal.example": ["10.1.2.3"],
    "v6.example": ["::1"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "meta.example": ["169.254.169.254"],
    "cgnat.example": ["100.100.100.200"],
    "public.example": ["93.184.216.34"],
}


class HostileResolver:
    """The attacker's DNS table, and the system resolver for ``localhost`` only (no network)."""

    def __init__(self) -> None:
        self.table = MapResolver(HOSTILE_DNS)
        self.system = SystemResolver()
        self.calls = 0

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        self.calls += 1
        if host == "localhost":
            return self.system.resolve(host, port)
        return self.table.resolve(host, port)


def hostile_urls(p: int) -> list[str]:
    """Every trick in the book, aimed at the canary's port ``p`` where a port matters."""
    return [
        f"http://127.0.0.1:{p}/", f"http://localhost:{p}/", f"http://LOCALHOST.:{p}/",
        f"http://127.1:{p}/", f"http://2130706433:{p}/", f"http://0x7f000001:{p}/",
        f"http://0177.0.0.1:{p}/", f"http://0x7f.0.0.1:{p}/", f"http://017700000001:{p}/",
        f"http://0:{p}/", f"http://0.0.0.0:{p}/", f"https://127.0.0.1:{p}/",
        f"http://[::1]:{p}/", f"http://[0:0:0:0:0:0:0:1]:{p}/", f"http://[::]:{p}/",
        f"http://[::ffff:127.0.0.1]:{p}/", f"http://[::ffff:7f00:1]:{p}/",
        f"http://[64:ff9b::7f00:1]:{p}/", f"http://[2002:7f00:1::]:{p}/",
        f"http://[::127.0.0.1]:{p}/", f"http://[fe80::1]:{p}/", f"http://[fc00::1]:{p}/",
        f"http://10.0.0.1:{p}/", f"http://172.16.0.1:{p}/", f"http://192.168.0.1:{p}/",
        f"http://100.64.0.1:{p}/", f"http://224.0.0.1:{p}/", f"http://255.255.255.255:{p}/",
        f"http://240.0.0.1:{p}/", f"http://198.18.0.1:{p}/",
        "http://169.254.169.254/latest/meta-data/", "http://0251.0376.0251.0376/latest/",
        "http://[::ffff:a9fe:a9fe]/latest/", "http://[fd00:ec2::254]/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        f"http://evil.example:{p}/", f"http://rebind.example:{p}/", f"http://internal.example:{p}/",
        f"http://v6.example:{p}/", f"http://mapped.example:{p}/", "http://meta.example/",
        "http://cgnat.example/", "http://unknown.invalid/",
        f"ftp://127.0.0.1:{p}/", "file:///etc/passwd", f"gopher://127.0.0.1:{p}/_",
        f"http://user:pw@127.0.0.1:{p}/", f"http://public.example@127.0.0.1:{p}/",
        f"http://127.0.0.1:{p}\\@public.example/",
        f"http://127.0.0.1:{p}/\r\nX-Injected: 1",
    ]  # fmt: skip


def _target(url: str) -> ChannelTarget:
    return ChannelTarget(id=uuid.uuid4(), name="t", url=url, secret=SECRET)


def test_hostile_urls_are_refused_and_the_canary_sees_nothing(canary: Canary, hook: Hook) -> None:
    resolver = HostileResolver()
    # The only allowlisted place is a redirector, which must not be followed to the canary.
    hook.location = f"http://127.0.0.1:{canary.port}/"
    hook.statuses = [302]
    sender = WebhookSender(allowlist=[f"127.0.0.1:{hook.port}"], resolver=resolver, timeout=2)
    urls = hostile_urls(canary.port)
    assert len(urls) >= 30
    accepted = []
    for url in urls:
        result = sender.send(_target(url), b"{}", delivery=uuid.uuid4(), event="opened")
        if result.ok or result.status is not None or result.retry:
            accepted.append((url, result))
    redirect = sender.send(_target(hook.url), b"{}", delivery=uuid.uuid4(), event="opened")
    assert not redirect.ok and redirect.status == 302 and redirect.error == "redirect not followed"
    time.sleep(0.5)
    assert canary.connections == 0
    assert accepted == []


@pytest.mark.parametrize("index", range(len(hostile_urls(1))))
def test_check_url_refuses_each_hostile_url(index: int) -> None:
    url = hostile_urls(8080)[index]
    if url.startswith("http://public.example:8080#"):
        # A fragment is not an authority: this one targets public.example, which is fine.
        assert (
            check_url(url, allow=Allowlist(), resolver=HostileResolver()).host == "public.example"
        )
        return
    with pytest.raises(UrlRefused):
        check_url(url, allow=Allowlist(), resolver=HostileResolver())


def test_public_destinations_are_pinned_to_the_one_resolved_address() -> None:
    resolver = HostileResolver()
    dest = check_url("https://public.example/hooks?a=1", allow=Allowlist(), resolver=resolver)
    assert dest.pinned_url == "https://93.184.216.34:443/hooks?a=1"
    assert dest.host_header == "public.example"
    assert resolver.calls == 1
    v6 = check_url("http://[2606:4700:4700::1111]:8080/x", allow=Allowlist(), resolver=resolver)
    assert v6.pinned_url == "http://[2606:4700:4700::1111]:8080/x"


def test_the_allowlist_admits_exactly_what_it_names(hook: Hook) -> None:
    resolver = HostileResolver()
    by_port = Allowlist([f"127.0.0.1:{hook.port}"])
    check_url(hook.url, allow=by_port, resolver=resolver)
    with pytest.raises(UrlRefused):
        check_url(f"http://127.0.0.1:{hook.port + 1}/", allow=by_port, resolver=resolver)
    cidr = Allowlist(["10.0.0.0/8", "[::1]", "metadata.google.internal"])
    check_url("http://internal.example/", allow=cidr, resolver=resolver)
    check_url("http://[::1]:9/", allow=cidr, resolver=resolver)
    check_url(
        "http://metadata.google.internal/",
        allow=cidr,
        resolver=MapResolver({"metadata.google.internal": ["169.254.169.254"]}),
    )
    with pytest.raises(UrlRefused):
        check_url("http://192.168.1.1/", allow=cidr, resolver=resolver)


def test_delivery_connects_to_the_pinned_address_with_the_real_host(hook: Hook) -> None:
    resolver = MapResolver({"hooks.example": ["127.0.0.1"]})
    sender = WebhookSender(allowlist=["hooks.example"], resolver=resolver, timeout=5)
    url = f"http://hooks.example:{hook.port}/hook"
    result = sender.send(_target(url), b'{"x":1}', delivery=uuid.uuid4(), event="opened")
    assert result.ok, result
    (got,) = hook.received
    assert got.headers["Host"] == f"hooks.example:{hook.port}"
    assert got.body == b'{"x":1}'


@pytest.mark.parametrize(
    ("address", "public"),
    [("8.8.8.8", True), ("2606:4700:4700::1111", True), ("127.0.0.2", False),
     ("169.254.1.1", False), ("100.127.255.255", False), ("::ffff:8.8.8.8", False),
     ("64:ff9b::808:808", False), ("0.1.2.3", False), ("239.1.1.1", False), ("ff02::1", False)],
)  # fmt: skip
def test_is_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_the_allowlist_comes_from_settings(settings, hook: Hook) -> None:
    target = _target(hook.url)
    closed = WebhookSender.from_settings(settings)
    assert "non-public" in (
        closed.send(target, b"{}", delivery=uuid.uuid4(), event="x").error or ""
    )
    assert hook.received == []
    opened = settings.model_copy(update={"webhook_allowlist": [f"127.0.0.1:{hook.port}"]})
    assert (
        WebhookSender.from_settings(opened).send(target, b"{}", delivery=uuid.uuid4(), event="x").ok
    )
    assert len(hook.received) == 1
