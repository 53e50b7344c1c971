"""The door's hygiene, before any route sees a request: a pure ASGI middleware.

- A NUL byte anywhere is refused with a 422 problem naming where it was:
  `path` or `query` (raw, or percent-encoded as `%00`), or `body` (a raw NUL,
  `%00` in a form body such as the login's, or a `\\u0000` escape inside a
  JSON string). A multipart body to an upload route (`_UPLOADS`: a count
  sheet is a zip, full of NUL bytes) is the exception: its route reads the
  file and checks every value it takes from it. No database stores NUL in
  text (PostgreSQL refuses it), so it never gets that far.
- A body larger than `max_body_bytes` (`AFTERSALES_MAX_BODY_BYTES`) is
  refused with a 413 problem: at once when its Content-Length says so, and
  while it streams in when it is chunked.
- Every response carries `X-Content-Type-Options: nosniff`, and every
  response except the docs pages' static assets `Cache-Control: no-store`.

The body is read here in full (it is bounded), checked, and handed on to the
app as one message. The byte scans are cheap; only when one finds `\\u0000`
is a JSON body parsed, in a worker thread, to tell an escaped NUL from the
text `\\\\u0000` (a backslash, then "u0000").
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MEDIA_TYPE = "application/problem+json"
# Routes that take a binary file as multipart/form-data (NUL bytes allowed): the
# API's count-sheet upload and the console's (/ui/counts/SC-…/sheet), and the
# purchase workbook of a plan (/plans/purchases, /ui/plans/purchases).
_UPLOADS = re.compile(r"(?:/ui)?/counts/SC-[0-9]{6,12}/sheet|(?:/ui)?/plans/purchases")
# Bodies at most this large are parsed on the event loop when they must be.
_SMALL = 64 * 1024


def _problem(status: int, code: str, title: str, detail: str, **extra: Any) -> bytes:
    body = {"type": f"/problems/{code}", "title": title, "status": status, "detail": detail}
    body.update(extra)
    return json.dumps(body).encode()


def invalid(where: str, detail: str) -> tuple[int, bytes]:
    return 422, _problem(
        422,
        "invalid-request",
        "The request is not valid",
        f"{where}: {detail}",
        field=where,
        errors=[{"field": where, "message": detail}],
    )


def too_large(limit: int) -> tuple[int, bytes]:
    return 413, _problem(
        413,
        "request-too-large",
        "Request too large",
        f"the request body is larger than {limit:,} bytes (AFTERSALES_MAX_BODY_BYTES); "
        "send it in smaller parts",
        field="body",
        limit=limit,
    )


def has_nul_text(raw: bytes) -> bool:
    """A raw NUL, or `%00`, in a path, query string or form body."""
    return b"\x00" in raw or b"%00" in raw


def _json_has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            for key, member in item.items():
                if "\x00" in key:
                    return True
                stack.append(member)
        elif isinstance(item, list):
            stack.extend(item)
    return False


def json_has_nul(body: bytes) -> bool:
    """Whether a JSON body holds a NUL in a string or a key. Not JSON at all:
    no (the route refuses it as it refuses any malformed body)."""
    if b"\\u0000" not in body:
        return False
    try:
        return _json_has_nul(json.loads(body))
    except (ValueError, RecursionError):
        return False


class Hygiene:
    """NUL bytes refused, bodies bounded, protective headers on every response."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, static_prefixes: tuple[str, ...] = ()):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.static_prefixes = static_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = (
            scope["path"].startswith(self.static_prefixes) if self.static_prefixes else False
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"x-content-type-options", b"cache-control")
                    or (cacheable and k.lower() == b"cache-control")
                ]
                headers.append((b"x-content-type-options", b"nosniff"))
                if not cacheable:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        refused = self._check_target(scope)
        if refused is None:
            refused, receive = await self._read_body(scope, receive)
        if refused is not None:
            status, body = refused
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", MEDIA_TYPE.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_headers({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send_with_headers)

    def _check_target(self, scope: Scope) -> tuple[int, bytes] | None:
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        if "\x00" in scope["path"] or has_nul_text(raw_path):
            return invalid("path", "a NUL character is not allowed")
        if has_nul_text(scope.get("query_string", b"")):
            return invalid("query", "a NUL character is not allowed")
        return None

    async def _read_body(
        self, scope: Scope, receive: Receive
    ) -> tuple[tuple[int, bytes] | None, Receive]:
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length")
        if length is None and b"transfer-encoding" not in headers:
            return None, receive  # no body
        if length is not None:
            try:
                if int(length) > self.max_body_bytes:
                    return too_large(self.max_body_bytes), receive
            except ValueError:
                return invalid("body", "the Content-Length header is not a number"), receive
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None, _replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return too_large(self.max_body_bytes), receive
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        # An uploaded file (a count sheet: a zip) is binary and holds NUL bytes;
        # the route reads it and checks every value it takes from it.
        if content_type == b"multipart/form-data" and _UPLOADS.fullmatch(scope["path"]):
            return None, _replay(
                [{"type": "http.request", "body": body, "more_body": False}], receive
            )
        if b"\x00" in body:
            return invalid("body", "a NUL character is not allowed"), receive
        if content_type == b"application/x-www-form-urlencoded" and b"%00" in body:
            return invalid("body", "a NUL character is not allowed"), receive
        if b"\\u0000" in body:
            nul = (
                json_has_nul(body)
                if len(body) <= _SMALL
                else await run_in_threadpool(json_has_nul, body)
            )
            if nul:
                return invalid("body", "a NUL character (\\u0000) is not allowed"), receive
        return None, _replay([{"type": "http.request", "body": body, "more_body": False}], receive)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that gives the messages already read, then the client's own."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
