"""A throwaway http server on 127.0.0.1 serving a dict of pages (404 for anything else).

The dict is read on every request, so a test may change a page between two builds.
"""
from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator, Mapping, MutableSequence


@contextlib.contextmanager
def serving_pages(pages: Mapping[str, bytes], headers: Mapping[str, str] = {},
                  seen: MutableSequence[str] | None = None) -> Iterator[str]:
    """Serve ``pages`` (path -> body) with extra response ``headers``; yields ``http://127.0.0.1:PORT``.

    ``seen``, when given, gets the path of every request, in order (what a test counts).
    """

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if seen is not None:
                seen.append(self.path)
            body = pages.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
