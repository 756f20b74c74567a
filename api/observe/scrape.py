"""GET /metrics: who may read it, and what is read at scrape time.

It is not a data path: counts and timings only, by route, root field, role and outcome; no
subject, no organisation, no request. Still, it is for the operators' network: the caller's
address (the rightmost-untrusted one when the peer is a CREDIT_TRUSTED_PROXIES proxy, so a
request relayed from the internet is judged by the internet address) must be in
CREDIT_METRICS_ALLOW (default loopback and the private networks; `none` turns /metrics off),
and when CREDIT_METRICS_TOKEN is set the scraper must also send `Authorization: Bearer <it>`.
A request carrying X-Forwarded-For, Forwarded or X-Real-IP from a peer that is not a trusted
proxy is refused: it came through a proxy the server was not told about."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..auth.request_info import _address, client_addr, trusted_networks
from .health import seal_lag
from .metrics import exposition, sample_pool

log = logging.getLogger("credit.metrics")
DEFAULT_ALLOW = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"


@dataclass(frozen=True)
class MetricsAccess:
    networks: tuple  # empty: /metrics is off
    token: str | None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> MetricsAccess:
        env = os.environ if env is None else env
        raw = env.get("CREDIT_METRICS_ALLOW", DEFAULT_ALLOW).strip()
        networks = () if raw.lower() in ("none", "off", "") else tuple(
            ipaddress.ip_network(n.strip(), strict=False) for n in raw.split(",") if n.strip())
        return cls(networks, env.get("CREDIT_METRICS_TOKEN") or None)

    def sees_details(self, scope, trusted: frozenset[str]) -> bool:
        """/health/ready's checks (database error texts, partition names) are for the same
        network as /metrics; anyone else gets the status and the names of the failed checks."""
        if _relayed_by_untrusted(scope, trusted):
            return False
        addr = _address(client_addr(scope, trusted) or "")
        return addr is not None and any(addr.version == n.version and addr in n for n in self.networks)

    def allows(self, scope, trusted: frozenset[str]) -> bool:
        if not self.sees_details(scope, trusted):
            return False
        if self.token is None:
            return True
        for k, v in scope["headers"]:
            if k == b"authorization":
                return hmac.compare_digest(v, b"Bearer " + self.token.encode())
        return False


_FORWARDING = (b"x-forwarded-for", b"forwarded", b"x-real-ip")


def _relayed_by_untrusted(scope, trusted: frozenset[str]) -> bool:
    """A request with a forwarding header from a peer that is not a trusted proxy was relayed by
    a proxy nobody configured (a reverse proxy on the same host, CREDIT_TRUSTED_PROXIES unset):
    its peer address is the proxy's, loopback or private, not the caller's. Refused rather
    than judged by the proxy's address; a scraper talking to the server directly sends none."""
    if not any(k.lower() in _FORWARDING for k, _v in scope.get("headers") or ()):
        return False
    peer = _address((scope.get("client") or ("",))[0] or "")
    return peer is None or not any(
        peer.version == n.version and peer in n for n in trusted_networks(trusted))


def metrics_endpoint(get_state, access: MetricsAccess):
    async def metrics(request: Request) -> Response:
        state = get_state()
        trusted = state.settings.trusted_proxies if state is not None else frozenset()
        if not access.networks:
            return JSONResponse({"error": "not_found"}, status_code=404)
        if not access.allows(request.scope, trusted):
            return JSONResponse({"error": "forbidden", "reason": "metrics are for the operators' "
                                 "network (CREDIT_METRICS_ALLOW, CREDIT_METRICS_TOKEN)"}, status_code=403)
        if state is not None:
            sample_pool(state.pool)
            timeout = state.settings.limits.acquire_timeout_seconds
            try:  # bounded; a failure leaves the last value and is said once in the log
                async with state.pool.acquire(timeout=timeout) as conn:
                    await seal_lag(conn, timeout)
            except Exception as e:  # noqa: BLE001 the scrape answers with what it has
                log.warning("seal lag not read at scrape: %s", e)
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    return metrics
