"""Serving an app on loopback from a test: uvicorn, configured as `codewm serve` configures
it (`codewm.predict.server_http.uvicorn_config`), on a free port in a background thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

try:
    import httpx
except ImportError:  # the openai client's own HTTP library, under its new name
    import httpx2 as httpx

from codewm.predict.server import make_app
from patience import patience
from codewm.predict.server_http import uvicorn_config


@contextlib.contextmanager
def running(lm, *, header_timeout: float = 10.0, max_connections: int = 512, **kw):
    """Serve `lm` on 127.0.0.1 (a free port) until the block ends; yields the base URL.
    `kw` goes to `make_app`."""
    app = make_app(lm, **kw)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn_config(app, header_timeout=header_timeout, max_connections=max_connections, access_log=False, host="127.0.0.1", port=port)
    server = __import__("uvicorn").Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + patience(60)
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(patience(30))
        sock.close()
