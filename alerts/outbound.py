"""Where the console's outgoing HTTP (Slack and webhook channels) may go, and how a channel's URL is shown.

The threat is server-side request forgery: whoever can edit a channel (or set
NOTIFY_WEBHOOK_URL) could point it at the console's own network — the cloud
metadata service at 169.254.169.254, an admin port on 10.x, Redis on
localhost — and read the answer back in the delivery log. So a message goes
out only when:

- the URL is http or https;
- every address the host resolves to is public (not loopback, private,
  link-local, shared, reserved or a cloud metadata address), unless
  WEBHOOK_ALLOW_PRIVATE is true (by default only with DEBUG on);
- the connection is made to the very address that was checked, so a second
  DNS answer cannot swap in a private one (TLS still verifies the host name);
- redirects are not followed (a public host could bounce to a private one);
- proxies from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY) are not used.

A Slack or webhook URL is itself a credential (the path is the secret), so
people see its scheme and host only: ``masked_url``.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from dataclasses import dataclass

import httpx
from django.conf import settings

# cloud metadata services; most are link-local or private anyway, Oracle's and Alibaba's are not
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
SCHEMES = ("http", "https")


class RefusedDestination(Exception):
    """The URL may not be sent to; the message says why and names the host only."""


@dataclass(frozen=True)
class Destination:
    url: httpx.URL
    address: str  # the checked address the connection goes to

    @property
    def pinned_url(self) -> httpx.URL:
        return self.url.copy_with(host=self.address)


def masked_url(url: str) -> str:
    """``https://hooks.slack.com/…``: scheme and host, never the path, query or user info."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "(invalid URL)" if url else ""
    if not parsed.host:
        return "(invalid URL)" if url else ""
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{host}{port}/…"


_URL = re.compile(r"""https?://[^\s'"<>]+""")


def mask_urls(text: str) -> str:
    """``text`` with every http(s) URL in it masked (``masked_url``): for logs and recorded errors."""
    return _URL.sub(lambda found: masked_url(found.group(0)), text)


class MaskUrlsInLog(logging.Filter):
    """On the HTTP client's logger: httpx logs every request's full URL at INFO, a webhook's path included."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = mask_urls(record.getMessage()), ()
        return True


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return address.is_global and address not in METADATA_ADDRESSES


def _addresses(host: str, port: int) -> list[str]:
    try:
        return [ipaddress.ip_address(host).compressed]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RefusedDestination(f"cannot resolve {host}: {exc}") from None
    # drop an IPv6 scope ("fe80::1%eth0"); keep the resolver's order
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in found))


def check_destination(url: str, *, resolve: bool = True) -> Destination:
    """The destination of ``url`` if the console may send there; RefusedDestination otherwise.

    ``resolve=False`` checks what can be checked without DNS (scheme, a literal
    address, ``localhost``): what a form does when a channel is saved."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise RefusedDestination("not a valid URL") from None
    if parsed.scheme not in SCHEMES:
        raise RefusedDestination(f"only http and https URLs are allowed, not {parsed.scheme or 'none'!r}")
    if not parsed.host:
        raise RefusedDestination("the URL has no host")
    allow_private = settings.WEBHOOK_ALLOW_PRIVATE
    if not resolve:
        literal = parsed.host.lower() in ("localhost", "localhost.") or parsed.host.lower().endswith(".localhost")
        try:
            literal = literal or not is_public(ipaddress.ip_address(parsed.host))
        except ValueError:
            pass
        if literal and not allow_private:
            raise RefusedDestination(_refusal(parsed.host))
        return Destination(url=parsed, address=parsed.host)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = _addresses(parsed.host, port)
    if not addresses:
        raise RefusedDestination(f"{parsed.host} has no address")
    if not allow_private:
        for address in addresses:
            if not is_public(ipaddress.ip_address(address)):
                raise RefusedDestination(_refusal(parsed.host, address))
    return Destination(url=parsed, address=addresses[0])


def _refusal(host: str, address: str | None = None) -> str:
    where = f"{host} ({address})" if address and address != host else host
    return (
        f"{where} is a loopback, private, link-local or metadata address: refused "
        "(WEBHOOK_ALLOW_PRIVATE=true allows it, e.g. for a receiver inside your network)"
    )


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> httpx.Response:
    """POST to a checked destination: pinned to the checked address, no redirects, no environment proxies.

    Raises RefusedDestination, or httpx's errors for the transport itself."""
    destination = check_destination(url)
    target = destination.url
    extensions = {}
    if destination.address != target.host:
        # connect to the address checked; the Host header and TLS (SNI, certificate) keep the name
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        headers = {**headers, "Host": target.netloc.decode("ascii")}
        target = destination.pinned_url
    with httpx.Client(trust_env=False, follow_redirects=False, timeout=timeout) as client:
        return client.post(target, content=body, headers=headers, extensions=extensions)
