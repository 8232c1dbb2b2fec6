"""Parsing what a client sends: path and query parameters, JSON and raw bodies.

Every failure is an `ApiError` 400 that names the parameter, so the middleware
answers it and the handler never sees half-checked input.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from ledger.hashing import HASH_SIZE
from ledger.keys import address_from_text
from node.rpc.errors import ApiError, bad_request, from_validation_error
from node.rpc.openapi import ADDRESS_PATTERN

MAX_HEIGHT = (1 << 63) - 1
_DECIMAL = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,20})?(?:[eE][-+]?[0-9]{1,3})?")
_ADDRESS = re.compile(ADDRESS_PATTERN.strip("^$"))
ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_hex(value: Any, field: str, length: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise bad_request("bad_hex", f"{field} must be a hex string", field)
    # Exactly HEX_PATTERN, without running the pattern (every submitted transaction
    # passes here: the regex cost ten times the conversion). bytes.fromhex refuses
    # anything but hex digit pairs and ASCII whitespace; whitespace it skips leaves
    # fewer bytes than half the text, so the length test refuses that too.
    try:
        data = bytes.fromhex(value)
    except ValueError:
        data = None
    if data is None or 2 * len(data) != len(value):
        raise bad_request("bad_hex", f"{field} is not valid hex", field)
    if length is not None and len(data) != length:
        raise bad_request("bad_hex", f"{field} must be {length} bytes ({2 * length} hex)", field)
    return data


def parse_hash(value: str, field: str = "hash") -> bytes:
    return parse_hex(value, field, HASH_SIZE)


def parse_address(value: str, field: str = "address") -> bytes:
    # Exactly ADDRESS_PATTERN (address_from_text alone would also strip whitespace),
    # then the checksum.
    if not _ADDRESS.fullmatch(value):
        raise bad_request(
            "bad_address",
            f"{field}: an address is lowercase pasar1 and 58 base32 characters, or 64 hex digits",
            field,
        )
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
    if value is None:
        return 0.0
    try:
        # A JSON-style number only: float() would also take " 5", "1_0", "-0" and "inf".
        if not _DECIMAL.fullmatch(value):
            raise ValueError(value)
        seconds = float(value)
    except ValueError as exc:
        raise bad_request("bad_parameter", f"{field} must be a number of seconds", field) from exc
    if not 0 <= seconds <= maximum:  # also refuses nan and inf
        raise bad_request("bad_parameter", f"{field} must be between 0 and {maximum}", field)
    return seconds


# The JSON edge. Python's decoder accepts more than a request may hold: a
# 5,000-digit integer makes int() raise, deep nesting trips the recursion guard,
# "\ud800" decodes to a string nothing can encode, NaN and duplicate keys are taken
# silently. Every body passes here, so these are refused once, as 400s that name
# where the problem is.
MAX_JSON_DEPTH = 32  # the deepest valid request (args with nested values) is far below
MAX_JSON_INT_DIGITS = 40  # canonical integers have at most 20 digits


class _Refused:
    """Stands in the decoded tree for a value the decoder must not build."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message


def _json_int(text: str) -> int | _Refused:
    if len(text) > MAX_JSON_INT_DIGITS:
        return _Refused("number_too_large", f"integer has more than {MAX_JSON_INT_DIGITS} digits")
    return int(text)


def _json_constant(text: str) -> _Refused:
    return _Refused("malformed_json", f"{text} is not a JSON number")


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any] | _Refused:
    result = dict(pairs)
    if len(result) != len(pairs):
        return _Refused("malformed_json", "object has a duplicate key")
    return result


def _first_refusal(value: Any, depth: int = 0) -> tuple[list[str], str, str] | None:
    """(path parts, innermost first; code; message) of the first refused value,
    unencodable string or too deep a nesting. Paths are built only on failure."""
    if depth > MAX_JSON_DEPTH:
        return [], "too_deep", f"JSON nests deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, _Refused):
        return [], value.code, value.message
    if isinstance(value, str):
        if not value.isascii() and not _encodable(value):
            return [], "bad_string", "string holds a lone UTF-16 surrogate"
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_refusal(item, depth + 1)
            if found is not None:
                found[0].append(str(index))
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            if not key.isascii() and not _encodable(key):
                return [], "bad_string", "an object key holds a lone UTF-16 surrogate"
            found = _first_refusal(item, depth + 1)
            if found is not None:
                found[0].append(key)
                return found
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def decode_json(raw: bytes) -> Any:
    """A request body as JSON, or a 400 naming the field (`body` for the whole)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request("malformed_json", "request body is not UTF-8", "body") from exc
    try:
        value = json.loads(
            text,
            parse_int=_json_int,
            parse_constant=_json_constant,
            object_pairs_hook=_json_object,
        )
    except json.JSONDecodeError as exc:
        raise bad_request(
            "malformed_json", f"request body is not valid JSON: {exc}", "body"
        ) from exc
    except RecursionError as exc:
        # The C decoder's recursion guard tripped (hundreds of levels): fails cleanly.
        too_deep = f"JSON nests deeper than {MAX_JSON_DEPTH} levels"
        raise bad_request("too_deep", too_deep, "body") from exc
    found = _first_refusal(value)
    if found is not None:
        parts, code, message = found
        field = ".".join(reversed(parts)) or "body"
        raise bad_request(code, f"{field}: {message}", field)
    return value


async def read_json(request: web.Request, limit: int) -> Any:
    """The request body as JSON; 413 above `limit` bytes, 400 when it is not JSON."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    raw = await request.read()
    if len(raw) > limit:
        raise too_large(limit)
    return decode_json(raw)


def parse_model(model: type[ModelT], data: Any) -> ModelT:
    if not isinstance(data, dict):
        raise bad_request("invalid_request", "request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from exc


def too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"request body is larger than {limit} bytes")
