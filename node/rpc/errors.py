"""The RPC's one error shape: HTTP status + {"error": {"code", "message", "field"?}}.

Handlers raise `ApiError`; the middleware in `node.rpc.app` turns it, aiohttp's
own HTTP errors (unknown route, wrong method, oversize body) and any unexpected
exception into this JSON, so a client always gets a parseable answer.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from node.rpc.jsonbody import json_response


class ApiError(Exception):
    """An answer other than success, with a stable snake_case `code`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


def error_response(error: ApiError) -> web.Response:
    return json_response(
        error_body(error.code, error.message, error.field),
        status=error.status,
        headers=error.headers,
    )


def bad_request(code: str, message: str, field: str | None = None) -> ApiError:
    return ApiError(400, code, message, field)


def not_found(code: str, message: str) -> ApiError:
    return ApiError(404, code, message)


def from_validation_error(exc: ValidationError) -> ApiError:
    """The first pydantic complaint as a 400 that names the offending field."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ())) or None
    message = str(first.get("msg", "invalid request"))
    return ApiError(400, "invalid_request", f"{field}: {message}" if field else message, field)
