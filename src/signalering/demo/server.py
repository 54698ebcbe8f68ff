"""A threaded HTTP server over a folder of saved pages, for tests, the demo and benchmarks.

File-naming rule (so saved pages can stand for URLs with a query string):

- ``/a/b?x=1&y=2`` is served from ``a/b@x=1&y=2`` or ``a/b@x=1&y=2.html`` (parameters in
  any order, so canonicalised URLs find the saved page);
- ``/a/b`` from ``a/b``, ``a/b.html`` or ``a/b/index.html``;
- a query string with no matching ``@`` file falls back to the plain path.

A file is served as ``text/html`` (without a charset, so the page's own ``<meta
charset>`` or BOM decides) unless its extension is a known non-HTML one (.xml, .rss,
.atom, .txt, .json, .pdf, .gz, .zip, .jpg, .png). An optional
``_routes.yaml`` at the site root overrides single URLs::

    /s/private: {status: 302, headers: {Location: /private}}   # redirect
    /news/1256.html: {headers: {Content-Type: "text/html; charset=windows-1256"}}
    /big.html: {generate: big, size: 5242880}                  # a 5 MB page
    /calendar/*: {generate: calendar}                          # an endless calendar

A key ending in ``*`` matches every path with that prefix. ``{base_url}`` in served
text files (``.html``, ``.xml``, ``.txt``, no extension) is replaced by the server's
base URL, so feeds and sitemaps can carry absolute links.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

logger = logging.getLogger(__name__)

_GATE_TIMEOUT = 60.0  # seconds a gated request waits at most
_TEXT_SUFFIXES = {"", ".html", ".htm", ".php", ".xml", ".txt", ".rss", ".atom"}
# Saved pages are HTML unless their extension says otherwise (``viewtopic.php`` too).
_TYPES = {
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".txt": "text/plain",
    ".json": "application/json",
    ".pdf": "application/pdf",
    ".gz": "application/gzip",
    ".zip": "application/zip",
    ".jpg": "image/jpeg",
    ".png": "image/png",
}
_MONTHS = ["", "January", "February", "March", "April", "May", "June", "July", "August"]
_MONTHS += ["September", "October", "November", "December"]


def _load_routes(root: Path) -> dict[str, dict[str, Any]]:
    path = root / "_routes.yaml"
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _calendar_page(path: str) -> bytes:
    """An endless month calendar: every month links to the previous and next one."""
    tail = path.rstrip("/").rsplit("/", 1)[-1]
    try:
        year, month = (int(p) for p in tail.split("-"))
    except ValueError:
        year, month = 2024, 1
    prev_y, prev_m = (year - 1, 12) if month == 1 else (year, month - 1)
    next_y, next_m = (year + 1, 1) if month == 12 else (year, month + 1)
    base = path.rstrip("/").rsplit("/", 1)[0] if "-" in tail else path.rstrip("/")
    days = "".join(
        f'<td><a href="{base}/{year}-{month:02d}?day={d}">{d}</a></td>' for d in range(1, 29)
    )
    html = (
        f"<html><head><title>Events {_MONTHS[month]} {year}</title></head><body>"
        f"<h1>Events {_MONTHS[month]} {year}</h1><p>No events.</p>"
        f'<a class="prev" href="{base}/{prev_y}-{prev_m:02d}">previous month</a> '
        f'<a class="next" href="{base}/{next_y}-{next_m:02d}">next month</a>'
        f"<table><tr>{days}</tr></table></body></html>"
    )
    return html.encode("utf-8")


class _Handler(BaseHTTPRequestHandler):
    server: _SiteServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s %s", self.address_string(), format % args)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib name
        self._respond(head=True)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._respond(head=False)

    def _route(self, path: str, query: str) -> dict[str, Any] | None:
        routes = self.server.routes
        for key in (f"{path}?{query}" if query else None, path):
            if key and key in routes:
                return routes[key]
        for key, route in routes.items():
            if key.endswith("*") and path.startswith(key[:-1]):
                return route
        return None

    def _find_file(self, path: str, query: str) -> Path | None:
        root = self.server.root
        rel = unquote(path).lstrip("/")
        candidates = []
        if query:
            candidates += [f"{rel}@{unquote(query)}", f"{rel}@{unquote(query)}.html"]
            candidates += self._same_query(root, rel, query)
        candidates += [rel, f"{rel}.html", f"{rel}/index.html".lstrip("/")]
        for name in candidates:
            if not name:
                continue
            file = (root / name).resolve()
            # Never serve outside the site folder.
            if file.is_file() and root in file.parents:
                return file
        return None

    @staticmethod
    def _same_query(root: Path, rel: str, query: str) -> list[str]:
        """Saved pages whose query has the same parameters in another order."""
        folder, _, name = rel.rpartition("/")
        directory = root / folder
        if not directory.is_dir():
            return []
        wanted = sorted(parse_qsl(query, keep_blank_values=True))
        found = []
        for file in directory.glob(f"{name}@*"):
            saved = file.name[len(name) + 1 :].removesuffix(".html")
            if sorted(parse_qsl(saved, keep_blank_values=True)) == wanted:
                found.append(f"{folder}/{file.name}" if folder else file.name)
        return found

    def _respond(self, *, head: bool) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path or "/", parts.query
        gate = self.server.gate
        if gate is not None and path != "/robots.txt" and not gate.wait(_GATE_TIMEOUT):
            logger.warning("serve_site: gate still closed after %ss, answering", _GATE_TIMEOUT)
        self.server.log.append(self.path)
        if self.server.on_request is not None:
            self.server.on_request(self.path)
        route = self._route(path, query) or {}
        status = int(route.get("status", 200))
        headers: dict[str, str] = {}
        body = b""
        generate = route.get("generate")
        if generate == "big":
            size = int(route.get("size", 5 * 1024 * 1024))
            chunk = b"<p>" + b"filler text " * 80 + b"</p>\n"
            head_html = b"<html><head><title>Big page</title></head><body>"
            body = head_html + chunk * (size // len(chunk) + 1)
            body = body[:size]
            headers["Content-Type"] = "text/html; charset=utf-8"
        elif generate == "calendar":
            body = _calendar_page(path)
            headers["Content-Type"] = "text/html; charset=utf-8"
        elif 300 <= status < 400:
            pass
        else:
            file = self._find_file(route.get("file") or path, "" if route.get("file") else query)
            if file is None:
                status, body = 404, b"<html><body><h1>Not found</h1></body></html>"
                headers["Content-Type"] = "text/html; charset=utf-8"
            else:
                body = file.read_bytes()
                if file.suffix in _TEXT_SUFFIXES:
                    body = body.replace(b"{base_url}", self.server.base_url.encode("ascii"))
                headers["Content-Type"] = _TYPES.get(file.suffix.lower(), "text/html")
        for name, value in (route.get("headers") or {}).items():
            headers[name] = str(value).replace("{base_url}", self.server.base_url)
        headers["Content-Length"] = str(len(body))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    # Scrapy opens several connections at once; the default backlog of 5 drops some.
    request_queue_size = 64

    def __init__(
        self,
        addr: tuple[str, int],
        root: Path,
        log: list[str],
        gate: threading.Event | None = None,
        on_request: Callable[[str], None] | None = None,
        routes: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(addr, _Handler)
        self.root = root
        self.routes = {**_load_routes(root), **(routes or {})}
        self.log = log
        self.gate = gate
        self.on_request = on_request
        self.base_url = f"http://{addr[0]}:{self.server_address[1]}"


@contextlib.contextmanager
def serve_site(
    root: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log: list[str] | None = None,
    gate: threading.Event | None = None,
    on_request: Callable[[str], None] | None = None,
    routes: dict[str, dict[str, Any]] | None = None,
) -> Iterator[str]:
    """Serve ``root`` on ``host:port`` (0 = any free port) and yield the base URL.

    Every requested path (with its query string) is appended to ``log`` when given,
    so a test can check what was (and was not) fetched. With ``gate``, every request but
    ``/robots.txt`` waits until the event is set (at most a minute): a test can let
    several crawlers get ready before the site answers any of them. ``on_request`` is
    called with each path as it is answered (e.g. to record when). ``routes`` adds to (and
    overrides) ``_routes.yaml``: a read-only folder of saved pages can be served under the
    URLs they stand for, e.g. ``{"/s/news": {"file": "saved_page.html"}}``.

    >>> with serve_site(Path("site")) as base_url:  # doctest: +SKIP
    ...     print(base_url)  # http://127.0.0.1:40123
    """
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"serve_site binds loopback only, not {host!r}")
    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"site folder {root} does not exist")
    server = _SiteServer(
        (host, port), root, log if log is not None else [], gate, on_request, routes
    )
    thread = threading.Thread(target=server.serve_forever, name="serve_site", daemon=True)
    thread.start()
    logger.info("serving %s at %s", root, server.base_url)
    try:
        yield server.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def main(argv: list[str] | None = None) -> None:
    """``python -m signalering.demo.server FOLDER [PORT]``: serve a folder until Ctrl-C."""
    import sys
    import time

    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path(__file__).parent / "site"
    port = int(args[1]) if len(args) > 1 else 8000
    with serve_site(root, port=port) as url:
        print(url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
