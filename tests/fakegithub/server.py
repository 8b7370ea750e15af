"""The HTTP side: a threaded server on 127.0.0.1 handing every request to the dispatcher."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .dispatch import Dispatcher


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as PyGithub's connection pool expects
    server: _Server

    def _serve(self) -> None:
        raw_body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        reply = self.server.dispatcher.handle(self.command, self.path, self.headers, raw_body)
        payload = reply.encode()
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:
        """Requests are recorded by the dispatcher; stderr stays quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    dispatcher: Dispatcher


class Server:
    def __init__(self) -> None:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fakegithub", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, dispatcher: Dispatcher) -> None:
        self._httpd.dispatcher = dispatcher
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
