"""A loopback HTTP server that answers canned bodies per path, for quota shapes the demo relay
does not serve (unlimited keys, cents, errors sent as 200, HTML pages, every path missing).

Routes map a path (without query) to (status, body): a dict or list is sent as JSON, a str as an
HTML page. Unknown paths get 404. Every request's path (with query) and Authorization header is
recorded so tests can see what was probed and with which key.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuotaServer:
    def __init__(self, routes: dict[str, tuple[int, Any]]):
        self.routes = routes
        self.requests: list[tuple[str, str | None]] = []
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> QuotaServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                server.requests.append((self.path, self.headers.get("Authorization")))
                status, body = server.routes.get(self.path.split("?")[0], (404, {"detail": "Not Found"}))
                if isinstance(body, str):
                    data, ctype = body.encode(), "text/html; charset=utf-8"
                else:
                    data, ctype = json.dumps(body).encode(), "application/json"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # a short poll interval so shutdown() returns quickly (the default waits up to 0.5 s)
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    @property
    def url(self) -> str:
        """The server's root URL, e.g. http://127.0.0.1:PORT (append /v1 for a base URL)."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def paths(self) -> list[str]:
        """The paths requested so far, query strings dropped."""
        return [path.split("?")[0] for path, _ in self.requests]

    def __exit__(self, *exc) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
