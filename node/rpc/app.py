"""Building the RPC application: route groups, limits and the error middleware.

A route group is a register function plus the OpenAPI path items it serves, so a
contract's query routes live in their own module (e.g. `routes_commerce.py`) and
are added by listing the group in `ROUTE_GROUPS`. The document served at
`/openapi.json` is assembled from the same groups, and a test checks that it
names exactly the routes the router has.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from node.log import log as log_event
from node.rpc.errors import ApiError, error_body, error_response
from node.rpc.jsonbody import json_response
from node.rpc.limits import TRUST_CLIENT_HEADER
from node.service import NodeService

log = logging.getLogger("pasar.rpc")

SERVICE_KEY = web.AppKey("pasar_node_service", NodeService)
# Large enough for a full batch of maximum-size transactions in hex; anything
# bigger is refused with 413 before it is buffered.
CLIENT_MAX_SIZE = 8 * 1024 * 1024

Register = Callable[[web.Application], None]


@dataclass(frozen=True)
class RouteGroup:
    """Routes that belong together, with their OpenAPI path items."""

    name: str
    register: Register
    paths: dict[str, dict[str, Any]] = field(default_factory=dict)
    schemas: dict[str, Any] = field(default_factory=dict)  # OpenAPI components they use


def service_of(request: web.Request) -> NodeService:
    return request.app[SERVICE_KEY]


_STATUS_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _printable(text: str, limit: int = 200) -> str:
    """Client-chosen text made safe for a one-line log (ASCII, bounded)."""
    return text[:limit].encode("ascii", "backslashreplace").decode("ascii")


def log_refusal(request: web.Request, status: int, code: str, field: str | None) -> None:
    """One line per refused request: bad input is the client's problem, not a traceback."""
    log_event(
        "rpc_refused",
        method=_printable(request.method, 16),
        path=_printable(request.raw_path),
        status=status,
        code=code,
        field=_printable(field or "-", 80),
    )


def _repeated_parameter(request: web.Request) -> str | None:
    """A query parameter given twice: no route takes lists, so which one counts would
    be a guess (the first, silently). Refused for every route, here."""
    names = [name for name, _ in request.query.items()]
    if len(names) == len(set(names)):
        return None
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return _printable(name, 80)
        seen.add(name)
    return None


async def close_after(request: web.Request, response: web.StreamResponse) -> None:
    """Send `response` and close the connection now, not after aiohttp's lingering read
    of the rest of a body nobody will read."""
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()


def client_gone(request: web.Request) -> bool:
    """The client's connection is closed (aiohttp drops the transport when it is lost)."""
    transport = request.transport
    return transport is None or transport.is_closing()


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes the JSON error shape; nothing escapes as a traceback."""
    try:
        repeated = _repeated_parameter(request)
        if repeated is not None:
            raise ApiError(400, "bad_parameter", f"{repeated} is given more than once", repeated)
        return await handler(request)
    except ConnectionError:
        if not client_gone(request):
            return internal_error(request)
        # The client hung up, e.g. in the middle of its body: nothing failed here, and
        # nobody is left to answer. The response returned is never sent (aiohttp drops
        # it quietly); raising instead would make aiohttp log a traceback and a 500.
        log_event(
            "rpc_client_gone",
            method=_printable(request.method, 16),
            path=_printable(request.raw_path),
        )
        return json_response(
            error_body("client_gone", "the connection closed before the request was read"),
            status=400,
        )
    except HttpProcessingError as exc:
        # A body aiohttp could not parse as it arrived (a bad chunk size, a chunked body
        # cut short): the client's mistake. Its framing is lost, so the connection ends.
        message = _printable((exc.message or "malformed request").strip().splitlines()[0])
        log_refusal(request, 400, "malformed_request", None)
        response = json_response(
            error_body("malformed_request", f"the request body is malformed: {message}"),
            status=400,
        )
        response.force_close()
        return response
    except ApiError as exc:
        log_refusal(request, exc.status, exc.code, exc.field)
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _STATUS_CODES.get(exc.status, "http_error")
        message = exc.reason
        if exc.status == 404:
            message = f"no route {request.method} {request.path}"
        elif exc.status == 405:
            message = f"method {request.method} is not allowed on {request.path}"
        elif exc.status == 413:
            message = f"request body is larger than the limit of {CLIENT_MAX_SIZE} bytes"
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        log_refusal(request, exc.status, code, None)
        return json_response(error_body(code, message), status=exc.status, headers=headers)
    except Exception:
        return internal_error(request)


def internal_error(request: web.Request) -> web.Response:
    """The 500 for a failure of the node's own, logged with its traceback (called while
    the exception is being handled)."""
    log.exception(
        "rpc handler failed: %s %s",
        _printable(request.method, 16),
        _printable(request.raw_path),
    )
    return json_response(
        error_body("internal_error", "the node could not answer this request"), status=500
    )


def default_route_groups() -> list[RouteGroup]:
    """The groups every node serves; contract modules append theirs here."""
    from node.rpc import (
        routes_chain,
        routes_commerce,
        routes_events,
        routes_exchange,
        routes_loyalty,
        routes_proofs,
        routes_txs,
        routes_web,
    )

    return [
        routes_chain.GROUP,
        routes_txs.GROUP,
        routes_events.GROUP,
        routes_commerce.GROUP,
        routes_loyalty.GROUP,
        routes_exchange.GROUP,
        routes_proofs.GROUP,
        routes_web.GROUP,
    ]


def openapi_document(
    groups: Sequence[RouteGroup], served: Sequence[str] = (), behind_front: bool = False
) -> dict[str, Any]:
    from node.rpc.openapi import document

    return document(groups, served, behind_front)


def build_rpc_app(
    service: NodeService, groups: Sequence[RouteGroup] | None = None
) -> web.Application:
    """The aiohttp application serving the RPC for `service`."""
    chosen = list(default_route_groups() if groups is None else groups)
    app = web.Application(middlewares=[error_middleware], client_max_size=CLIENT_MAX_SIZE)
    app[SERVICE_KEY] = service
    for group in chosen:
        group.register(app)
    rendered: list[bytes] = []

    async def openapi(request: web.Request) -> web.Response:
        # Built on first use: the node adds its operational routes after this function
        # returns, and the document describes exactly the routes the router has.
        if not rendered:
            served = [resource.canonical for resource in request.app.router.resources()]
            # behind the RPC front (which the node then trusts for the client's address),
            # any operation can also get the front's own 503 and 504
            behind_front = request.config_dict.get(TRUST_CLIENT_HEADER, False)
            document = openapi_document(chosen, served, behind_front)
            rendered.append(json.dumps(document, indent=1).encode())
        return web.Response(body=rendered[0], content_type="application/json")

    app.router.add_get("/openapi.json", openapi)
    return app
