"""Pure-ASGI middleware: the request body limit (413) and the record of state-changing calls.

The body limit is enforced twice: by ``Content-Length`` before anything is read, and by counting
the bytes actually received (chunked uploads carry no length). Every call made with a key that
can change state (POST/PUT/PATCH/DELETE under ``/v1`` other than the computing-only ``POST``
routes; login and logout) is recorded with the key's identity through ``record_event`` once its
status is known, before the answer leaves.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# POST routes that only compute: no api-call record (decisions are recorded as ``decision``
# records by their routes instead)
READ_ONLY_POSTS = (
    "/v1/decisions",
    "/v1/decisions/csv",
    "/v1/screen",
    "/v1/parties/resolve",
)
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class _TooLarge(Exception):
    pass


async def _reject(send: Send, limit: int) -> None:
    body = json.dumps(
        {"error": {"field": "body", "message": f"request body over the {limit}-byte limit"}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.limit:
                    await _reject(send, self.limit)
                    return
        received = 0
        exceeded = False
        replaced = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # the app may turn the failed read into its own error (FastAPI answers 400):
            # whatever it says, the client gets the 413
            nonlocal replaced
            if exceeded:
                if not replaced:
                    replaced = True
                    await _reject(send, self.limit)
                return
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except _TooLarge:
            if not replaced:
                await _reject(send, self.limit)


class EventMiddleware:
    """Give every request an id (``X-Request-ID``: the client's when it is a short token, else a
    fresh one; echoed in the answer) and record state-changing calls made with a key through
    ``record`` before the answer's status line is sent — so a client never sees an answer to a
    call the audit chain does not hold. A route that changes state under a path listed in
    ``READ_ONLY_POSTS`` (``?ledger=reserve``) sets ``request.state.record_call``; a route may add
    details for the record in ``request.state.audit_extra``."""

    def __init__(
        self, app: ASGIApp, record: Callable[[Any, str, str, int, str, Any], Awaitable[None]]
    ) -> None:
        self.app = app
        self.record = record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        path = scope.get("path", "")
        state = scope.setdefault("state", {})
        request_id = ""
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if REQUEST_ID.match(candidate):
                    request_id = candidate
                break
        request_id = request_id or uuid.uuid4().hex
        state["request_id"] = request_id
        candidate_call = method not in ("GET", "HEAD", "OPTIONS") and (
            path.startswith("/v1/") or path in ("/login", "/logout")
        )

        async def tracked_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
                principal = state.get("principal")
                if (
                    candidate_call
                    and principal is not None
                    and (path not in READ_ONLY_POSTS or state.get("record_call"))
                ):
                    await self.record(
                        principal,
                        method,
                        path,
                        int(message["status"]),
                        request_id,
                        state.get("audit_extra"),
                    )
            await send(message)

        await self.app(scope, receive, tracked_send)


SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        b"script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        b"form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeadersMiddleware:
    """Add a strict Content-Security-Policy (only this server's scripts, styles and data; no
    framing) and related headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
