"""A programmable HTTP server on 127.0.0.1 for the web and feed tests, with a request log."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


def article_page(
    title: str, paragraphs: list[str], *, canonical: str | None = None, published: str | None = None
) -> str:
    """A news page as outlets serve it: navigation and footer around an <article>."""
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    date = f'<meta property="article:published_time" content="{published}">' if published else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html><head><title>{title}</title>{link}{date}"
        '<meta property="og:site_name" content="Test Wire"></head><body><nav>Home | World</nav>'
        f"<article><h1>{title}</h1>{body}</article><footer>© Test Wire</footer></body></html>"
    )


@dataclass
class Route:
    """What one path answers. Fields may be changed while the server runs."""

    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    etag: str | None = None  # answer If-None-Match with 304
    last_modified: str | None = None  # answer If-Modified-Since with 304
    fail_first: int = 0  # answer 500 this many times first
    location: str | None = None  # redirect here (status 301 unless `status` says otherwise)
    stream_bytes: int = 0  # send this many bytes of filler, with no Content-Length
    declare_length: bool = True
    delay: float = 0.0  # seconds before answering
    trickle: float = 0.0  # seconds between 16-byte pieces of the body (a slow-loris server)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int
    headers: dict[str, str]

    def __str__(self) -> str:
        conditional = [h for h in ("If-None-Match", "If-Modified-Since") if h in self.headers]
        extra = f"  ({', '.join(conditional)})" if conditional else ""
        return f"{self.method} {self.path} -> {self.status}{extra}"


class FeedServer:
    """`with FeedServer() as server:`; `server.route(path, ...)`, `server.url(path)`,
    `server.log` (every request, in order, but for robots.txt), `server.robots_log` (the
    robots.txt requests: the fetcher reads one per site before anything else), `server.clear()`."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.log: list[Request] = []
        self.robots_log: list[Request] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                server._serve(self)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def route(self, path: str, body: bytes | str = b"", **options) -> Route:
        route = Route(body.encode() if isinstance(body, str) else body, **options)
        self.routes[path] = route
        return route

    def clear(self) -> None:
        with self._lock:
            self.log.clear()
            self.robots_log.clear()

    def paths(self) -> list[str]:
        return [r.path for r in self.log]

    def lines(self) -> list[str]:
        return [str(r) for r in self.log]

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        route = self.routes.get(h.path) or self.routes.get(urlsplit(h.path).path)
        status = self._status(h, route)
        with self._lock:
            log = self.robots_log if h.path == "/robots.txt" else self.log
            log.append(Request("GET", h.path, status, dict(h.headers.items())))
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            if route is not None and route.delay:
                time.sleep(route.delay)
            self._respond(h, route, status)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (size cap, timeout): that is the point of some tests
        finally:
            with self._lock:
                self.active -= 1

    def _status(self, h: BaseHTTPRequestHandler, route: Route | None) -> int:
        if route is None:
            return 404
        with self._lock:
            if route.fail_first > 0:
                route.fail_first -= 1
                return 500
        if route.location:
            return route.status if route.status in (301, 302, 303, 307, 308) else 301
        if route.etag and h.headers.get("If-None-Match") == route.etag:
            return 304
        if route.last_modified and h.headers.get("If-Modified-Since") == route.last_modified:
            return 304
        return route.status

    def _respond(self, h: BaseHTTPRequestHandler, route: Route | None, status: int) -> None:
        h.send_response(status)
        if route is not None and status not in (404, 500):
            for name, value in route.headers.items():
                h.send_header(name, value)
            if route.etag:
                h.send_header("ETag", route.etag)
            if route.last_modified:
                h.send_header("Last-Modified", route.last_modified)
        if status in (301, 302, 303, 307, 308):
            h.send_header("Location", route.location)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if status in (304,):
            h.end_headers()
            return
        body = b"" if route is None or status >= 400 else route.body
        h.send_header("Content-Type", route.content_type if route else "text/plain")
        if route is not None and route.stream_bytes and status == 200:
            if route.declare_length:
                h.send_header("Content-Length", str(route.stream_bytes))
            h.end_headers()
            chunk = b"<p>" + b"filler text " * 5000 + b"</p>\n"
            sent = 0
            while sent < route.stream_bytes:
                part = chunk[: route.stream_bytes - sent]
                h.wfile.write(part)
                sent += len(part)
            return
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if route is not None and route.trickle:
            for i in range(0, len(body), 16):
                h.wfile.write(body[i : i + 16])
                h.wfile.flush()
                time.sleep(route.trickle)
            return
        h.wfile.write(body)
