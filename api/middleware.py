"""ASGI middleware: a request body larger than its limit gets 413; query strings kept out of the access log."""

from __future__ import annotations

import contextlib
import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recommender.content import READINGS


class OneReading:
    """Each HTTP request keeps its classifier readings (`recommender.content.READINGS`): a text
    scored several times in one request (answer, map, advice) is classified once, and nothing
    outlives the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = READINGS.set({})
        try:
            await self.app(scope, receive, send)
        finally:
            READINGS.reset(token)


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """`max_bytes` for every path, except those given their own allowance in `overrides`
    (e.g. the bureau's file import)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, overrides: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = overrides or {}

    @staticmethod
    async def _reject(send: Send, limit: int) -> None:
        body = json.dumps(
            {
                "detail": f"请求体过大：最多 {limit // 1024} KB，请缩短内容或分批提交",
                "code": "too_large",
            },
            ensure_ascii=False,
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.overrides.get(scope.get("path", ""), self.max_bytes)
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._reject(send, limit)
                return
        received = 0
        exceeded = False
        rejected = False
        started = False  # the app answered before the limit was crossed: its answer stands

        async def guarded_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _TooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # A body without Content-Length (chunked) is only found too large while the app reads
            # it, and FastAPI turns any error while reading into its own 400 (our 422). Whatever
            # the app answers after the limit was crossed is replaced by the 413.
            nonlocal rejected, started
            if exceeded and not started:
                if not rejected and message["type"] == "http.response.start":
                    rejected = True
                    await self._reject(send, limit)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_TooLarge):  # the app stopped reading: answered below
            await self.app(scope, guarded_receive, guarded_send)
        if exceeded and not rejected and not started:
            await self._reject(send, limit)


class RedactQuery(logging.Filter):
    """Drops the query string from uvicorn's access log lines: `?token=` values, and the report's
    `?name=…&description=…`, are not for a log file. The path stays, so requests can be traced."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn.access logs (client, method, path with query, http version, status).
        if (
            isinstance(args, tuple)
            and len(args) >= 3
            and isinstance(args[2], str)
            and "?" in args[2]
        ):
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?[已隐去]", *args[3:])
        return True


def redact_access_log() -> None:
    """Install `RedactQuery` on uvicorn's access logger once (after uvicorn configured logging)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQuery) for f in logger.filters):
        logger.addFilter(RedactQuery())
