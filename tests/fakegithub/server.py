"""The HTTP side: a threaded server on 127.0.0.1 handing every request to the dispatcher, and the
artifact storage host that artifact downloads redirect to."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .dispatch import Dispatcher
from .state import BlobRequest, State


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


class _BlobHandler(BaseHTTPRequestHandler):
    """Blob storage: serves an artifact's zip at the signed link the API handed out. It is not the
    API: no token is needed here, and none should arrive (each request's Authorization is recorded)."""

    protocol_version = "HTTP/1.1"
    server: _BlobServer

    def do_GET(self) -> None:
        state = self.server.state
        found = re.fullmatch(r"/artifacts/(\d+)/([\w-]+)\.zip", self.path)
        with state.lock:
            artifact = None
            if found and state.blob_links.get(found.group(2)) == int(found.group(1)):
                artifact = state.artifacts.get(int(found.group(1)))
            status = 200 if artifact is not None else 403  # Azure answers a bad signature with 403
            state.blob_requests.append(BlobRequest(self.path, self.headers.get("Authorization"), status))
        payload = artifact.data if artifact is not None else b"AuthenticationFailed"
        self.send_response(status)
        self.send_header("Content-Type", "application/zip" if artifact is not None else "application/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Recorded in the state; stderr stays quiet."""


class _BlobServer(ThreadingHTTPServer):
    daemon_threads = True
    state: State


class BlobServer:
    def __init__(self, state: State) -> None:
        self._httpd = _BlobServer(("127.0.0.1", 0), _BlobHandler)
        self._httpd.state = state
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fakegithub-blobs", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
