"""A real HTTP server on loopback, for the demo estate and for tests.

Handlers are plain functions of the request; each may sleep, fail or stream slowly, so a check
meets real sockets, real latency and real failures.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from opsbook.demo.tls import Issued


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: httpx.Headers  # case-insensitive, as HTTP header names are
    body: bytes = b""


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # before the status line: a slow server
    chunk_delay_s: float = 0.0  # between body chunks: a trickling server

    @classmethod
    def json(cls, payload: Any, status: int = 200, **kwargs: Any) -> Reply:
        return cls(status, json.dumps(payload), {"Content-Type": "application/json"}, **kwargs)


Handler = Callable[[Request], Reply]


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops concurrent connects; each dropped SYN is
    # retried by the client after a full second, which made concurrent checks look slow.
    request_queue_size = 128


class LoopbackServer:
    """Serve `routes` (path -> handler) on 127.0.0.1 in a background thread."""

    def __init__(self, routes: dict[str, Handler] | None = None, port: int = 0, tls: Issued | None = None) -> None:
        """With `tls`, serve HTTPS presenting that certificate (see opsbook.demo.tls.issue)."""
        self.routes: dict[str, Handler] = dict(routes or {})
        self.hits: dict[str, int] = {}
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:  # keep test and demo output clean
                pass

            def _serve(self) -> None:
                path, _, query = self.path.partition("?")
                server.hits[path] = server.hits.get(path, 0) + 1
                handler = server.routes.get(path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                reply = (
                    handler(Request(self.command, path, query, httpx.Headers(self.headers.items()), body))
                    if handler
                    else Reply(404, "not found")
                )
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                chunks = _chunks(reply.body)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.chunk_delay_s:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    try:
                        for chunk in chunks:
                            time.sleep(reply.chunk_delay_s)
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                            self.wfile.flush()
                        self.wfile.write(b"0\r\n\r\n")
                    except (BrokenPipeError, ConnectionResetError):
                        self.close_connection = True
                    return
                body = b"".join(chunks)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    try:
                        self.wfile.write(body)
                    except (BrokenPipeError, ConnectionResetError):
                        self.close_connection = True

            do_GET = do_HEAD = do_POST = _serve

        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.daemon_threads = True
        self.scheme = "https" if tls else "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls.cert_path, tls.key_path)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="loopback-http", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _chunks(body: bytes | str | Iterable[bytes]) -> list[bytes]:
    if isinstance(body, str):
        return [body.encode()]
    if isinstance(body, bytes):
        return [body] if body else []
    return list(body)
