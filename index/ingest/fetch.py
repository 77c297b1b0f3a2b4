"""Fetching web pages safely and politely.

`Fetcher` is the one HTTP client: a User-Agent naming the project, timeouts, a response size
cap, a per-host concurrency limit, retries with backoff on 5xx and timeouts, manual redirects,
robots.txt, and a server-side request forgery guard that resolves every host and refuses
private, loopback, link-local and other non-public addresses (unless `allow_private_urls`). The
guard sits in the connection layer, so the address that was checked is the address connected
to (no DNS-rebinding window) and every redirect hop is checked again.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import urllib.robotparser
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from index.ingest.files import IngestError

USER_AGENT = "Newsdesk/0.1 (news question-answering bot; polite fetcher)"
HTML_TYPES = {"text/html", "application/xhtml+xml"}
REDIRECTS = {301, 302, 303, 307, 308}
RETRY_STATUSES = {429, 500, 502, 503, 504}
TRACKING_PARAMS = ("utm_", "fbclid", "gclid", "dclid", "mc_cid", "mc_eid", "_ga", "ocid")
NAT64 = ipaddress.ip_network("64:ff9b::/96")

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits for one Fetcher. The defaults are what `newsdesk` uses."""

    connect_timeout: float = 10.0
    read_timeout: float = 20.0  # between two bytes of the response
    total_timeout: float = 60.0  # the whole response, however slowly it trickles in
    max_bytes: int = 5 * 2**20  # one page (after decompression)
    max_feed_bytes: int = 10 * 2**20  # one feed document
    max_redirects: int = 5
    retries: int = 2  # extra attempts after a 5xx, 429, timeout or dropped connection
    backoff: float = 0.5  # seconds before the first retry; doubles each time
    max_retry_after: float = 30.0  # the most a server's Retry-After may make us wait
    per_host: int = 2  # requests in flight to one host
    workers: int = 8  # requests in flight overall


class FetchError(Exception):
    """A URL could not be fetched. `transient` errors (5xx, timeouts) may work later."""

    def __init__(
        self, url: str, reason: str, *, transient: bool = False, status: int | None = None
    ) -> None:
        super().__init__(f"{url}: {reason}")
        self.url, self.reason, self.transient = url, reason, transient
        self.status = status  # the HTTP status that made it fail, if one did


class BlockedAddressError(FetchError):
    """The host resolves to an address the request forgery guard refuses."""


@dataclass(frozen=True, slots=True)
class FetchFailure(IngestError):
    """An IngestError from fetching; `transient` ones (5xx, timeouts) are worth retrying."""

    transient: bool = False


@dataclass(slots=True)
class Response:
    url: str  # the final URL, after redirects
    status: int
    headers: httpx.Headers
    content: bytes = b""

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None


# --- the request forgery guard -----------------------------------------------------------------
def refused_reason(address: str) -> str | None:
    """Why the guard refuses to connect to this IP address, or None if it is public."""
    ip: Any = ipaddress.ip_address(address.split("%")[0])
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            ip = embedded
    for label, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return f"{label} address {ip}"
    if not ip.is_global:
        return f"non-public address {ip}"
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order, without duplicates."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve host {host!r} ({exc})") from None
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        if sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    return addresses


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves the host once, checks every address, then connects to a checked one."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = resolve(host, port)
        if not self.allow_private:
            for address in addresses:
                reason = refused_reason(address)
                if reason:
                    if host == address:  # "10.0.0.1 is a private address", said once
                        what = f"is a {reason.removesuffix(' ' + address)}"
                    else:
                        what = f"resolves to a {reason}"
                    raise BlockedAddressError(
                        host,
                        f"refused: {host} {what} (set NEWSDESK_ALLOW_PRIVATE_URLS=1 to allow)",
                    )
        last: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host!r}")


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, allow_private: bool, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)  # no proxies: they would bypass the guard
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(allow_private),
        )


# --- the fetcher -------------------------------------------------------------------------------
def check_url(url: str) -> str:
    """The URL if it is an absolute http(s) URL with a host; FetchError otherwise."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise FetchError(url, f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(url, "only http:// and https:// URLs can be fetched")
    if not parts.hostname:
        raise FetchError(url, "the URL has no host")
    if parts.username or parts.password:
        raise FetchError(url, "URLs with a user name or password are refused")
    del port
    return url.strip()


class Fetcher:
    """A thread-safe, polite HTTP client; use as a context manager or call `close()`."""

    def __init__(
        self,
        settings: Any = None,
        policy: FetchPolicy | None = None,
        *,
        allow_private: bool | None = None,
        user_agent: str = USER_AGENT,
        robots: bool | None = None,
    ) -> None:
        self.policy = policy or FetchPolicy()
        if allow_private is None:
            allow_private = bool(getattr(settings, "allow_private_urls", False))
        self.allow_private = allow_private
        self.user_agent = user_agent
        self.robots = bool(getattr(settings, "respect_robots", True)) if robots is None else robots
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        p = self.policy
        limits = httpx.Limits(
            max_connections=p.workers, max_keepalive_connections=p.workers, keepalive_expiry=30
        )
        self.client = httpx.Client(
            transport=_GuardedTransport(allow_private, limits),
            headers={"User-Agent": user_agent},
            timeout=httpx.Timeout(p.read_timeout, connect=p.connect_timeout),
            follow_redirects=False,
            trust_env=False,
        )
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._slots_lock = threading.Lock()
        self.requests = 0  # HTTP requests sent, retries and redirects included
        self._count_lock = threading.Lock()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def _slot(self, url: str) -> threading.BoundedSemaphore:
        parts = urlsplit(url)
        key = f"{(parts.hostname or '').lower()}:{parts.port or ''}"
        with self._slots_lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = threading.BoundedSemaphore(self.policy.per_host)
            return slot

    def get(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        max_bytes: int | None = None,
        conditional: bool = False,
        check_robots: bool = True,
    ) -> Response:
        """GET with redirects followed (each hop checked). Raises FetchError for any
        failure; a 304 comes back as a Response only when `conditional`. A URL the site's
        robots.txt keeps from the Newsdesk user agent is refused (unless robots are ignored)."""
        max_bytes = max_bytes or self.policy.max_bytes
        current = check_url(url)
        if check_robots and self.robots and not self.allowed(current):
            raise FetchError(url, "disallowed by robots.txt")
        for _hop in range(self.policy.max_redirects + 1):
            try:
                response = self._with_retries(current, headers or {}, max_bytes)
            except FetchError as exc:
                if current == url.strip():
                    raise
                reason = f"redirected to {current}: {exc.reason}"
                raise FetchError(url, reason, transient=exc.transient) from None
            if response.status in REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise FetchError(current, f"HTTP {response.status} redirect without Location")
                current = check_url(urljoin(current, location))
                continue
            if response.status == 304 and conditional:
                return response
            if response.status >= 300:
                transient = response.status in RETRY_STATUSES
                reason = f"HTTP {response.status}"
                if response.url != url.strip():
                    reason += f" from {response.url}"
                raise FetchError(url, reason, transient=transient, status=response.status)
            return response
        raise FetchError(url, f"too many redirects (more than {self.policy.max_redirects})")

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets Newsdesk fetch `url`; read once per site and cached. A site
        with no robots.txt (or a 4xx for it) allows everything; so does one whose robots.txt
        cannot be fetched at all, so that a flaky server is not taken for a refusal."""
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        with self._slots_lock:
            lock = self._robots_locks.setdefault(site, threading.Lock())
        with lock:
            if site not in self._robots:
                self._robots[site] = self._read_robots(site)
        rules = self._robots[site]
        return rules is None or rules.can_fetch(self.user_agent, url)

    def _read_robots(self, site: str) -> urllib.robotparser.RobotFileParser | None:
        rules = urllib.robotparser.RobotFileParser(site + "/robots.txt")
        try:
            response = self.get(site + "/robots.txt", max_bytes=512 * 1024, check_robots=False)
        except FetchError as exc:
            if exc.status in (401, 403):
                rules.disallow_all = True  # the same rule as urllib's own reader
                return rules
            return None
        rules.parse(response.content.decode("utf-8", errors="replace").splitlines())
        return rules

    def _with_retries(self, url: str, headers: dict[str, str], max_bytes: int) -> Response:
        policy = self.policy
        for attempt in range(policy.retries + 1):
            last = attempt == policy.retries
            try:
                with self._slot(url):
                    response = self._once(url, headers, max_bytes)
            except BlockedAddressError as exc:
                raise FetchError(url, exc.reason) from None
            except httpx.TimeoutException:
                error = FetchError(url, "timed out", transient=True)
            except httpx.TransportError as exc:
                error = FetchError(url, f"connection failed ({_describe(exc)})", transient=True)
            except FetchError as exc:
                if not exc.transient:
                    raise
                error = exc
            else:
                if response.status not in RETRY_STATUSES or last:
                    return response
                time.sleep(self._delay(attempt, response.headers.get("retry-after")))
                continue
            if last:
                raise error
            time.sleep(self._delay(attempt, None))
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        delay = self.policy.backoff * 2**attempt
        if retry_after and retry_after.strip().isdigit():
            delay = max(delay, min(float(retry_after), self.policy.max_retry_after))
        return delay

    def _once(self, url: str, headers: dict[str, str], max_bytes: int) -> Response:
        with self._count_lock:
            self.requests += 1
        deadline = time.monotonic() + self.policy.total_timeout
        with self.client.stream("GET", url, headers=headers) as r:
            response = Response(str(r.url), r.status_code, r.headers)
            if r.status_code in REDIRECTS or r.status_code == 304 or r.status_code >= 400:
                return response  # the body does not matter
            declared = r.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(url, f"response too large ({_size(int(declared))}; limit "
                                      f"{_size(max_bytes)})")  # fmt: skip
            body = bytearray()
            for chunk in r.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(url, f"response too large (over {_size(max_bytes)})")
                if time.monotonic() > deadline:
                    raise FetchError(url, "timed out (response too slow)", transient=True)
            response.content = bytes(body)
            return response

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """`fn` over items on worker threads (the per-host limit still applies), in order."""
        return ordered_map(fn, items, self.policy.workers)


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """Like `map`, on `workers` threads with a bounded window, yielding in input order."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="newsdesk-fetch") as pool:
        window: deque[Future[R]] = deque()
        try:
            for item in items:
                window.append(pool.submit(fn, item))
                if len(window) >= 2 * workers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()


def _describe(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 160 else text[:157] + "..."


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"
