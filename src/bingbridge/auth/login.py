"""Sign in with the authorization-code flow: a browser (or a pasted URL) and a local redirect listener."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx

from bingbridge.auth.oauth import TokenManager, code_from_redirect, code_grant_form, start_authorization
from bingbridge.auth.tokens import TokenSet
from bingbridge.errors import OAuthError
from bingbridge.settings import Settings


class RedirectListener:
    """A one-shot HTTP server on the redirect URI's host and port that captures the redirect URL."""

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname not in ("localhost", "127.0.0.1"):
            raise OAuthError(
                "invalid_redirect",
                f"the local listener needs an http://localhost redirect, got {redirect_uri}",
            )
        self.redirect_uri = redirect_uri
        self._received = threading.Event()
        self.url: str | None = None
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if urlsplit(self.path).path != parts.path:
                    self.send_error(404)
                    return
                listener.url = f"{parts.scheme}://{parts.netloc}{self.path}"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(b"<p>bingbridge is connected. You can close this window.</p>")
                listener._received.set()

            def log_message(self, format: str, *args: Any) -> None:
                return  # the redirect carries the code: keep it out of logs

        self._server = ThreadingHTTPServer((parts.hostname or "localhost", parts.port or 80), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RedirectListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, timeout: float) -> str:
        if not self._received.wait(timeout):
            raise OAuthError("timeout", f"no redirect reached {self.redirect_uri} within {timeout:.0f} s")
        assert self.url is not None
        return self.url


def login(
    settings: Settings,
    tokens: TokenManager,
    http: httpx.Client,
    *,
    open_url: Callable[[str], object] | None,
    read_redirect: Callable[[str], str] | None = None,
    timeout: float = 300.0,
) -> TokenSet:
    """Run the whole flow and store the tokens.

    With `open_url` (a browser), a local listener catches the redirect; with `read_redirect` instead, the user
    is shown the URL and pastes the address the browser was sent back to.
    """
    auth = start_authorization(settings)
    if open_url is not None:
        with RedirectListener(auth.redirect_uri) as listener:
            open_url(auth.url)
            redirect = listener.wait(timeout)
    elif read_redirect is not None:
        redirect = read_redirect(auth.url)
    else:
        raise ValueError("give open_url or read_redirect")
    code = code_from_redirect(auth, redirect)
    response = http.post(tokens.endpoints.token, data=code_grant_form(settings, auth, code))
    return tokens.accept(response.status_code, response.content, new_grant=True)
