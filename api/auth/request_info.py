"""What the trail records about the HTTP request itself, made so that a client cannot write it.

- The request id is made by the server, always. A client's own `X-Request-Id` is kept beside
  it, as the client's claim (printable ASCII, at most 128 characters; anything else dropped).
- The client address is the TCP peer unless the peer is a trusted proxy
  (`CREDIT_TRUSTED_PROXIES`: addresses or networks). Then `X-Forwarded-For` is walked from the
  right, skipping trusted proxies: the first address that is not one is the client (the
  rightmost-untrusted rule; entries left of it were written by the client and prove nothing)."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterable
from functools import lru_cache

from starlette.types import Scope

from .principal import RequestInfo

MAX_CLIENT_REQUEST_ID = 128

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_request_id(given: str | None) -> str | None:
    """The client's own id as it sent it, if it is printable ASCII of sensible length."""
    if not given:
        return None
    given = given.strip()
    if not given or len(given) > MAX_CLIENT_REQUEST_ID:
        return None
    if not all(" " <= c <= "~" for c in given):
        return None
    return given


@lru_cache(maxsize=16)
def trusted_networks(trusted: frozenset[str]) -> tuple[Network, ...]:
    """The configured proxies as networks; an entry that is neither an address nor a network
    trusts nothing (fail closed)."""
    out: list[Network] = []
    for entry in trusted:
        try:
            out.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue
    return tuple(out)


def _address(raw: str) -> Address | None:
    """An X-Forwarded-For entry: an address, maybe with a port (`1.2.3.4:80`, `[::1]:80`)."""
    raw = raw.strip().strip('"')
    if raw.startswith("["):
        raw = raw[1 : raw.find("]")] if "]" in raw else raw
    elif raw.count(":") == 1:
        raw = raw.split(":")[0]
    try:
        return ipaddress.ip_address(raw)
    except ValueError:
        return None


def _is_trusted(addr: Address, networks: Iterable[Network]) -> bool:
    return any(addr.version == n.version and addr in n for n in networks)


def client_addr(scope: Scope, trusted: frozenset[str]) -> str | None:
    """The client's address by the rightmost-untrusted rule."""
    peer_raw = scope.get("client")[0] if scope.get("client") else None
    if peer_raw is None:
        return None
    networks = trusted_networks(trusted)
    peer = _address(peer_raw)
    if peer is None or not _is_trusted(peer, networks):
        return peer_raw
    forwarded: list[str] = []
    for name, value in scope.get("headers") or ():
        if name.lower() == b"x-forwarded-for":  # several headers are one list, in order
            forwarded.extend(value.decode("latin-1").split(","))
    last = peer
    for entry in reversed(forwarded):
        addr = _address(entry)
        if addr is None:
            break  # garbage a trusted proxy passed on: the last hop it vouched for stands
        if not _is_trusted(addr, networks):
            return str(addr)
        last = addr
    return str(last)


def request_info(scope: Scope, headers: dict[str, str], trusted: frozenset[str]) -> RequestInfo:
    """The request's trail fields: a fresh server-made id, the client's own id beside it, and
    the client address."""
    return RequestInfo(
        # the id api/observe/access.py made for the access log and X-Request-Id, else a fresh one
        request_id=(scope.get("state") or {}).get("request_id") or str(uuid.uuid4()),
        client_addr=client_addr(scope, trusted),
        client_request_id=client_request_id(headers.get("x-request-id")),
    )
