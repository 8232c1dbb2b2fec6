"""A small synchronous client for the node's HTTP RPC (standard library only).

Connection failures become "cannot reach node at URL: reason" and HTTP errors
carry the node's own error message, each as a one-line `CliError`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Generator
from typing import Any

from cli.common import CliError

DEFAULT_TIMEOUT = 15.0
EVENTS_READ_TIMEOUT = 60.0


class StreamQuiet(CliError):
    """Nothing, not even a keepalive, arrived on an event stream within the read timeout."""


class NodeReplyError(CliError):
    """The node answered with an error; `code`, `status` and `field` (the offending
    input, when the node names one) let callers react to it."""

    def __init__(
        self,
        message: str,
        code: str,
        status: int,
        field: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.field = field
        # seconds, from a 429's Retry-After-Ms (or its whole-second Retry-After)
        self.retry_after = retry_after


def retry_after_of(headers: Any) -> float | None:
    """Seconds to wait, from a 429's headers: `Retry-After-Ms` (the node's estimate
    in milliseconds) when present and valid, else `Retry-After` (whole seconds; the
    node never sends an HTTP date there), else None."""
    for name, scale in (("Retry-After-Ms", 1000.0), ("Retry-After", 1.0)):
        text = headers.get(name)
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            continue
        if value == value and 0 <= value < float("inf"):  # not NaN, finite, not negative
            return value / scale
    return None


class NodeClient:
    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise self._reply_error(exc) from exc
        except urllib.error.URLError as exc:
            raise CliError(f"cannot reach node at {self.base_url}: {exc.reason}") from exc
        except TimeoutError as exc:
            raise CliError(f"node at {self.base_url} did not answer in time") from exc
        except (ConnectionError, OSError) as exc:
            raise CliError(f"cannot reach node at {self.base_url}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise CliError(f"node at {self.base_url} sent a reply that is not JSON") from exc

    @staticmethod
    def _reply_error(exc: urllib.error.HTTPError) -> NodeReplyError:
        code = "http_error"
        field = None
        try:
            error = json.loads(exc.read())["error"]
            code = str(error["code"])
            field = str(error["field"]) if error.get("field") is not None else None
            message = f"{error['message']} ({code}, HTTP {exc.code})"
        except (ValueError, KeyError, TypeError, AttributeError):
            message = f"HTTP {exc.code} {exc.reason}"
        retry_after = retry_after_of(exc.headers) if exc.code == 429 else None
        if retry_after is not None:
            message += f"; retry after {retry_after:g} s"
        return NodeReplyError(message, code, exc.code, field, retry_after)

    def status(self) -> Any:
        return self.request("GET", "/v1/status")

    def peers(self) -> Any:
        return self.request("GET", "/v1/peers")

    def account(self, address: str) -> Any:
        return self.request("GET", f"/v1/accounts/{urllib.parse.quote(address)}")

    def submit(self, signed_tx: bytes) -> Any:
        return self.request("POST", "/v1/txs", {"tx": signed_tx.hex()})

    def tx(self, tx_hash: str, wait: float = 0) -> Any:
        query = {"wait": str(wait)} if wait else None
        return self.request(
            "GET", f"/v1/txs/{urllib.parse.quote(tx_hash)}", query=query, timeout=wait + 15
        )

    def block(self, height: int | str = "latest", wait: float = 0, summary: bool = False) -> Any:
        """A committed block; with `wait`, one not committed yet is waited for that long
        (then NodeReplyError `block_not_found`, as for any height without a block)."""
        query = {"transactions": "summary"} if summary else {}
        if wait:
            query["wait"] = str(wait)
        path = f"/v1/blocks/{urllib.parse.quote(str(height))}"
        return self.request("GET", path, query=query or None, timeout=wait + 15 if wait else None)

    def events(
        self,
        query: dict[str, str],
        read_timeout: float = EVENTS_READ_TIMEOUT,
        keepalives: bool = False,
    ) -> Generator[dict[str, Any], None, None]:
        """Follow GET /v1/events: yield {"event", "id", "data"} per server-sent event.

        With `keepalives`, each keepalive comment is yielded as {"event": "keepalive"}:
        the server sends one after 15 s without a new block, which lets a follower
        notice a node that stopped advancing. A read that waits `read_timeout`
        seconds for any byte raises StreamQuiet (the default is longer than the
        keepalive interval, so an idle stream does not time out)."""
        url = self.base_url + "/v1/events"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(url, headers={"Accept": "text/event-stream"})
        try:
            response = urllib.request.urlopen(request, timeout=read_timeout)
        except urllib.error.HTTPError as exc:
            raise self._reply_error(exc) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(f"cannot reach node at {self.base_url}: {reason}") from exc
        with response:
            current: dict[str, Any] = {}
            try:
                for raw in response:
                    line = raw.decode("utf-8").rstrip("\r\n")
                    if not line:
                        if "data" in current:
                            yield current
                        current = {}
                    elif line.startswith(":"):
                        if keepalives:
                            yield {"event": "keepalive"}
                    else:
                        name, _, value = line.partition(": ")
                        if name == "data":
                            current["data"] = json.loads(value)
                        elif name in ("event", "id"):
                            current[name] = value
            except TimeoutError as exc:
                raise StreamQuiet(
                    f"nothing from {self.base_url} for {read_timeout:g} s on the event stream"
                ) from exc
            except OSError as exc:
                raise CliError(f"lost the event stream from {self.base_url}: {exc}") from exc
