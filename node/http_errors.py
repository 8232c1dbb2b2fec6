"""Requests aiohttp's parser refuses, answered in the RPC's JSON error shape.

aiohttp answers a request it cannot parse (no `Host` header, a header line over
8,190 bytes, `Content-Length` with chunked, a bad chunk size, ...) before any
application code runs, and in plain text. Behind the node's RPC front the front
refuses most such heads itself, in JSON; without the front (`[rpc] front =
false`), or for a chunked body the front relays, the node's own server answers.
`install` makes that answer the same shape as every other refusal: 400
`malformed_request` (aiohttp's parser refuses with 400 only), with aiohttp's reason
as the message, and the connection closed as aiohttp closes it.
aiohttp still logs the error (one line, node/log.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from node.rpc.errors import error_body
from node.rpc.jsonbody import dumps

_MESSAGE_CHARS = 200

_aiohttp_handle_error = RequestHandler.handle_error


def _reason(exc: BaseException | None, message: str | None, status: int) -> str:
    """One printable line saying what was wrong, from aiohttp's exception or text."""
    text = getattr(exc, "message", None) or message or ""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    reason = lines[0] if lines else ""  # what is wrong; the lines after quote the input
    reason = reason[:_MESSAGE_CHARS].encode("ascii", "backslashreplace").decode("ascii")
    return reason or f"the request could not be read (HTTP {status})"


def _handle_error(
    self: RequestHandler,
    request: Any,
    status: int = 500,
    exc: BaseException | None = None,
    message: str | None = None,
) -> web.StreamResponse:
    # aiohttp's own handling first: its log line, and its refusal to answer twice
    aiohttp_answer = _aiohttp_handle_error(self, request, status, exc, message)
    if status >= 500:
        code, text = "internal_error", "the node could not answer this request"
    else:
        code, text = "malformed_request", _reason(exc, message, status)
    answer = web.Response(
        status=aiohttp_answer.status,
        body=dumps(error_body(code, text)),
        content_type="application/json",
    )
    answer.force_close()  # as aiohttp's own: what follows on the connection is unread
    return answer


def install() -> None:
    """Answer requests aiohttp's server refuses in JSON (idempotent; process-wide)."""
    RequestHandler.handle_error = _handle_error  # type: ignore[method-assign]
