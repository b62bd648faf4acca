"""The HTTP server around `codewm.predict.server`'s app: uvicorn, with the limits a server
facing untrusted clients needs and uvicorn does not set by itself.

- A header deadline: a connection that has not sent a whole request head within
  `header_timeout` seconds of opening (or of its previous answer) is closed. uvicorn
  otherwise holds a silent or trickling connection forever (its keep-alive timer only runs
  between requests, and any byte resets it), so a few thousand half-open connections
  would hold the server's file descriptors. The body has its own deadline in the app.
- `max_connections`: past it, requests get uvicorn's 503.
- The port is bound before anything is printed, so a port in use is one clear error, and
  `serving ... at ...` means the server is listening.

uvicorn is imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import Any

from codewm.predict.base import LanguageModel


class BindError(OSError):
    """The server cannot listen on the address asked for (in use, not this machine's, ...)."""


def header_deadline_protocol(header_timeout: float) -> type:
    """uvicorn's h11 protocol, closing a connection whose request head is not complete
    `header_timeout` seconds after it opened or after its previous response."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderDeadlineProtocol(H11Protocol):
        _deadline = None

        def _arm(self) -> None:
            self._disarm()
            if not self.transport.is_closing():
                self._deadline = self.loop.call_later(header_timeout, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            if self.cycle is not None and not self.cycle.response_complete:
                return  # a request is being answered: its head came in time
            self.transport.close()

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.cycle is None or self.cycle.response_complete:  # no pipelined request started
                self._arm()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderDeadlineProtocol


def uvicorn_config(app: Any, *, header_timeout: float = 10.0, max_connections: int = 512, access_log: bool = True, **kw: Any):
    """A `uvicorn.Config` for `app` with the header deadline and the connection limit."""
    import uvicorn

    return uvicorn.Config(
        app,
        http=header_deadline_protocol(header_timeout),
        limit_concurrency=max_connections,
        access_log=access_log,
        log_level="info" if access_log else "warning",
        timeout_graceful_shutdown=5,
        **kw,
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port), or a `BindError` that says why not."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise BindError(f"cannot listen on {host}:{port}: unknown host ({e.strerror})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise BindError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.set_inheritable(True)
    return sock


def is_loopback(host: str) -> bool:
    """Whether every address `host` names is this machine's loopback."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """What to tell the user when the server listens beyond this machine (None: loopback)."""
    if is_loopback(host):
        return None
    if api_key is None:
        return (f"warning: listening on {host}, beyond this machine, without --api-key: anyone who can reach "
                "this port can run the model (use --api-key KEY, or --host 127.0.0.1)")
    return f"warning: listening on {host}, beyond this machine: requests need the API key but travel as plain HTTP (no TLS)"


def serve(
    lm: LanguageModel,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    header_timeout: float = 10.0,
    max_connections: int = 512,
    access_log: bool = True,
    **kw: Any,
) -> None:
    """Serve `lm` over HTTP until interrupted; `kw` goes to `make_app`. Raises `BindError`
    before printing anything when the address cannot be had."""
    import uvicorn

    from codewm.predict.server import make_app

    sock = bind(host, port)
    try:
        app = make_app(lm, **kw)
        warning = exposure_warning(host, kw.get("api_key"))
        if warning:
            print(warning, file=sys.stderr, flush=True)
        name = kw.get("model_name") or lm.name
        shown = f"[{host}]" if ":" in host else host
        print(f"serving {name} at http://{shown}:{sock.getsockname()[1]}/v1", flush=True)
        config = uvicorn_config(app, header_timeout=header_timeout, max_connections=max_connections, access_log=access_log)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
