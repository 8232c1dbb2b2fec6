"""Parsing what a client sends: path and query parameters, JSON and raw bodies.

Every failure is an `ApiError` 400 that names the parameter, so the middleware
answers it and the handler never sees half-checked input.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from ledger.hashing import HASH_SIZE
from ledger.keys import address_from_text
from node.rpc.errors import ApiError, bad_request, from_validation_error

MAX_HEIGHT = (1 << 63) - 1
ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_hex(value: Any, field: str, length: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise bad_request("bad_hex", f"{field} must be a hex string", field)
    try:
        data = bytes.fromhex(value)
    except ValueError as exc:
        raise bad_request("bad_hex", f"{field} is not valid hex", field) from exc
    if length is not None and len(data) != length:
        raise bad_request("bad_hex", f"{field} must be {length} bytes ({2 * length} hex)", field)
    return data


def parse_hash(value: str, field: str = "hash") -> bytes:
    return parse_hex(value, field, HASH_SIZE)


def parse_address(value: str, field: str = "address") -> bytes:
    try:
        return address_from_text(value)
    except ValueError as exc:
        raise bad_request("bad_address", f"{field}: {exc}", field) from exc


def parse_int(value: str, field: str, low: int = 0, high: int = MAX_HEIGHT) -> int:
    # Digits only: int() would also take "+5", " 5" or "5_0".
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise bad_request("bad_parameter", f"{field} must be a non-negative integer", field)
    number = int(value)
    if not low <= number <= high:
        raise bad_request("bad_parameter", f"{field} must be between {low} and {high}", field)
    return number


def parse_seconds(value: str | None, field: str, maximum: float) -> float:
    """A duration such as "2" or "0.5", at most `maximum`; absent means 0."""
    if value is None or value == "":
        return 0.0
    try:
        seconds = float(value)
    except ValueError as exc:
        raise bad_request("bad_parameter", f"{field} must be a number of seconds", field) from exc
    if not 0 <= seconds <= maximum:  # also refuses nan and inf
        raise bad_request("bad_parameter", f"{field} must be between 0 and {maximum}", field)
    return seconds


async def read_json(request: web.Request, limit: int) -> Any:
    """The request body as JSON; 413 above `limit` bytes, 400 when it is not JSON."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    raw = await request.read()
    if len(raw) > limit:
        raise too_large(limit)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request("malformed_json", f"request body is not valid JSON: {exc}") from exc


def parse_model(model: type[ModelT], data: Any) -> ModelT:
    if not isinstance(data, dict):
        raise bad_request("invalid_request", "request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from exc


def too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"request body is larger than {limit} bytes")
