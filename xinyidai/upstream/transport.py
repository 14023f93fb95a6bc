"""The HTTPS client to the city node: POST {XYD_UPSTREAM_URL}/events (one event a request, its event id also
in the Idempotency-Key header) and GET {XYD_UPSTREAM_URL}/figures/{district}/{YYYY-MM} for reconciliation.

Authentication from configuration: a bearer token (XYD_UPSTREAM_TOKEN), a client certificate
(XYD_UPSTREAM_CERT + XYD_UPSTREAM_KEY), or both; the server is verified against XYD_UPSTREAM_CA (default:
the system's CAs). Plain http:// is refused except to a loopback address (tests, a local relay).

How an answer is read: 2xx acknowledged (a receiver answers 2xx to an event id it already has);
400 / 409 / 413 / 422 rejected — the message itself is wrong, it is parked with the receiver's reason;
anything else (5xx, 408, 429, 401/403, redirects, timeouts, refused connections) failed — retried later,
since it says nothing against the event.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from xinyidai.domain.upstream import Delivery

REJECTING = frozenset({400, 409, 413, 422})


class ConfigurationError(ValueError):
    """XYD_UPSTREAM_* settings that cannot work (no URL, plain http to a remote host, a key without its cert)."""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reason(response: requests.Response) -> str:
    """The receiver's own words: a JSON body's detail / reason / message / errors, else its text."""
    text = response.text[:2000]
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("detail", "reason", "message", "errors", "error"):
            if body.get(key):
                value = body[key]
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                break
    return f"HTTP {response.status_code}: {text.strip() or response.reason}"[:1000]


@dataclass
class Client:
    url: str
    token: str | None = None
    cert: str | None = None
    key: str | None = None
    ca: str | None = None
    timeout: float = 10.0

    def __post_init__(self):
        if not self.url:
            raise ConfigurationError("XYD_UPSTREAM_URL is not set")
        parts = urlsplit(self.url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigurationError(f"XYD_UPSTREAM_URL must be an https:// URL, not {self.url!r}")
        if parts.scheme == "http" and not _loopback(parts.hostname):
            raise ConfigurationError("XYD_UPSTREAM_URL must use https:// (plain http only to a loopback address)")
        if bool(self.key) and not self.cert:
            raise ConfigurationError("XYD_UPSTREAM_KEY is set without XYD_UPSTREAM_CERT")
        self.url = self.url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["User-Agent"] = "xinyidai-upstream/1"
        if self.token:
            self.http.headers["Authorization"] = f"Bearer {self.token}"
        if self.cert:
            self.http.cert = (self.cert, self.key) if self.key else self.cert
        # Passed with every request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's
        # `verify`, which would silently swap the city node's CA for the system's.
        self.verify = self.ca or True

    @classmethod
    def from_config(cls, config) -> Client:
        return cls(config.get("XYD_UPSTREAM_URL") or "", token=config.get("XYD_UPSTREAM_TOKEN") or None,
                   cert=config.get("XYD_UPSTREAM_CERT") or None, key=config.get("XYD_UPSTREAM_KEY") or None,
                   ca=config.get("XYD_UPSTREAM_CA") or None,
                   timeout=float(config.get("XYD_UPSTREAM_TIMEOUT_SECONDS") or 10))

    def send(self, message: dict) -> Delivery:
        try:
            response = self.http.post(f"{self.url}/events", json=message, timeout=(min(5.0, self.timeout), self.timeout),
                                      headers={"Idempotency-Key": message["event_id"]}, allow_redirects=False,
                                      verify=self.verify)
        except requests.RequestException as error:
            return Delivery("failed", f"{type(error).__name__}: {error}"[:1000])
        if 200 <= response.status_code < 300:
            return Delivery("acknowledged")
        return Delivery("rejected" if response.status_code in REJECTING else "failed", _reason(response))

    def figures(self, district_code: str, month: str) -> dict | None:
        """The month's figures the receiver holds for the district; None when it holds none (404).
        Raises requests' errors (OSErrors) when it cannot be asked."""
        response = self.http.get(f"{self.url}/figures/{district_code}/{month}", timeout=(min(5.0, self.timeout), self.timeout),
                                 allow_redirects=False, verify=self.verify)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise requests.HTTPError(_reason(response), response=response)
        body = response.json()
        return body.get("figures") if isinstance(body, dict) else None

    def close(self) -> None:
        self.http.close()
