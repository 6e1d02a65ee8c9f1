"""The request guard: one ASGI middleware in front of the page, the API and Netron's viewer.

In order, a request is refused when
1. its Host header is not a name this server was started for (a DNS-rebinding page cannot reach it);
2. it comes from another origin (an `Origin` that is not this server, or a browser's
   `Sec-Fetch-Site: cross-site` on anything but a plain navigation): no cross-site form posts,
   uploads or credentialed reads;
3. the server has an access token and the request carries none (query `?token=`, which also sets a
   cookie, the cookie itself, or `Authorization: Bearer ...`);
4. its body is larger than the limit for its route (uploads: the upload limit; everything else:
   `max_body`) — checked on Content-Length and again while the body streams in (past the limit the
   app sees the client disconnect).
Each refusal is a short plain-text answer with the status that says why (400, 403, 401, 413).
"""
from __future__ import annotations

import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

from .settings import current

COOKIE = "yld_token"
SAFE_METHODS = ("GET", "HEAD")


def _headers(scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def same_origin(origin: str, host: str, scheme: str) -> bool:
    parts = urlsplit(origin)
    return bool(parts.scheme and parts.netloc) and parts.scheme in (scheme, scheme.replace("ws", "http")) \
        and parts.netloc.lower() == host.lower()


def _credentials(scope, headers: dict[str, str]) -> dict[str, str]:
    """The tokens a request carries, by where: query (`?token=`), bearer, cookie. (The query name
    is shared with other uses, e.g. the Netron viewer's export token: any one that matches counts.)"""
    found = {}
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        found["query"] = query["token"][0]
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        found["bearer"] = auth[7:].strip()
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # noqa: BLE001 - a malformed cookie header is just no cookie
        cookie = SimpleCookie()
    if COOKIE in cookie:
        found["cookie"] = cookie[COOKIE].value
    return found


def _matching(scope, headers: dict[str, str], token: str) -> list[str]:
    """Where the request carries the right token (empty: nowhere)."""
    return [where for where, value in _credentials(scope, headers).items()
            if secrets.compare_digest(value.encode("utf-8", "replace"), token.encode())]


def why_refused(scope, headers: dict[str, str]) -> tuple[int, str] | None:
    s = current()
    host = headers.get("host", "")
    if not s.host_allowed(host):
        return 400, f"unknown host {host[:80]!r}: this server answers to the names it was started for"
    origin = headers.get("origin")
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    if origin is not None and not same_origin(origin, host, scheme):
        return 403, "cross-origin request refused"
    method = scope.get("method", "GET")
    site = headers.get("sec-fetch-site", "")
    if site == "cross-site" and (method not in SAFE_METHODS or headers.get("sec-fetch-mode") != "navigate"):
        return 403, "cross-site request refused"
    if s.token:
        if not _matching(scope, headers, s.token):
            return 401, ("this YOLO Lite Designer needs its access token: open the address printed when the "
                         "server started (…/?token=…)")
    return None


def body_limit(path: str) -> int:
    s = current()
    return s.max_file_size + 2**20 if path.rstrip("/").endswith("/upload") else s.max_body


class Guard:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = _headers(scope)
        refused = why_refused(scope, headers)
        if refused is None and scope["type"] == "http":
            limit = body_limit(scope.get("path", ""))
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                refused = 413, f"request body larger than {limit:,} bytes"
        if refused is not None:
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1008})
            return await _answer(send, *refused)
        if scope["type"] == "websocket":
            return await self.app(scope, receive, send)
        return await self._forward(scope, receive, send, headers)

    async def _forward(self, scope, receive, send, headers):
        """Pass the request on; past the body limit the app sees the client go away and the
        client gets 413 (if no answer has begun)."""
        limit, seen, started, over = body_limit(scope.get("path", "")), 0, False, False
        token = current().token
        set_cookie = bool(token) and "query" in _matching(scope, headers, token)

        async def counted_receive():
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def send_once_started(message):
            nonlocal started
            if over and not started:  # the app's answer to the cut body is replaced by the 413
                return
            if message["type"] == "http.response.start":
                started = True
                if set_cookie:  # the page's own later requests carry the cookie
                    cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
                    message = {**message, "headers": [*message.get("headers", []),
                                                      (b"set-cookie", cookie.encode("latin-1"))]}
            await send(message)

        try:
            await self.app(scope, counted_receive, send_once_started)
        except Exception:
            if not over:
                raise
        if over and not started:
            await _answer(send, 413, f"request body larger than {limit:,} bytes")


async def _answer(send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
