"""Structured one-line logs: `ts=... level=info event=block_committed height=5 ...`.

Values with spaces or quotes are quoted so every line splits cleanly on spaces;
bytes are shown as short hex. Logs go to stderr through the `pasar` logger so a
test or an embedding program can capture or silence them.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import resource
import sys
import time
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

LOGGER = logging.getLogger("pasar")
_context: dict[str, str] = {}


def _format_value(value: Any) -> str:
    if isinstance(value, bytes):
        text = value.hex()[:16]
    elif isinstance(value, float):
        text = f"{value:.3f}"
    else:
        text = str(value)
    if not text or any(char in text for char in ' "=\n\t'):
        return json.dumps(text)
    return text


def format_line(event: str, level: str, fields: dict[str, Any]) -> str:
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    parts = [f"ts={stamp}.{int(now * 1000) % 1000:03d}Z", f"level={level}", f"event={event}"]
    parts += [f"{key}={_format_value(value)}" for key, value in _context.items()]
    parts += [f"{key}={_format_value(value)}" for key, value in fields.items()]
    return " ".join(parts)


def log(event: str, level: str = "info", **fields: Any) -> None:
    """Log one event; `fields` become key=value pairs after the node's context."""
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        number = logging.INFO
    if LOGGER.isEnabledFor(number):
        LOGGER.log(number, format_line(event, level, fields))


def log_doubling(seen: int, event: str, level: str = "warning", /, **fields: Any) -> None:
    """`log` for the 1st, 2nd, 4th, 8th... occurrence of something a faulty peer or
    client can repeat by the thousand (`seen` is its running total): the log keeps a
    trace of each doubling, not a line per occurrence."""
    if seen > 0 and seen & (seen - 1) == 0:
        log(event, level, **fields)


# aiohttp's server logs a request it could not parse, with a traceback, here
AIOHTTP_SERVER_LOGGER = "aiohttp.server"


def _client_error_line(error: BaseException, client: object) -> tuple[int, str] | None:
    """The level and one line for a client's mistake aiohttp reports, else None."""
    if isinstance(error, HttpProcessingError):
        first = (error.message or type(error).__name__).strip().splitlines() or [""]
        text = first[0][:200].encode("ascii", "backslashreplace").decode("ascii")
        fields = {"client": client, "status": error.code or 400, "error": text}
        return logging.INFO, format_line("http_malformed", "info", fields)
    if isinstance(error, ConnectionError):  # the client hung up
        return logging.DEBUG, format_line("http_client_gone", "debug", {"client": client})
    return None


class ClientErrorsOnOneLine(logging.Filter):
    """A request aiohttp's server could not parse (no Host header, a header line over
    8,190 bytes, too many headers, Content-Length with chunked, a bad chunk size) is the
    client's mistake: one line, like every refused request, not a traceback per
    request. aiohttp itself has answered it 400, before any application code ran
    (in JSON: node/http_errors.py). Anything else it logs is kept whole."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None:
            return True
        client = record.args[0] if isinstance(record.args, tuple) and record.args else "-"
        line = _client_error_line(error, client)
        if line is None:
            return True
        level, message = line
        if not LOGGER.isEnabledFor(level):
            return False
        record.msg, record.args = message, ()
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = level, logging.getLevelName(level)
        return True


def configure(node_name: str, level: str = "info") -> None:
    """Send logs to stderr, one line each, tagged with the node's name; aiohttp's
    server logger too, with clients' malformed requests on one line."""
    _context.clear()
    _context["node"] = node_name
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level.upper())
    LOGGER.propagate = False
    server = logging.getLogger(AIOHTTP_SERVER_LOGGER)
    server.handlers[:] = [handler]
    server.filters[:] = [ClientErrorsOnOneLine()]
    server.setLevel(level.upper())
    server.propagate = False


# asyncio's accept loop reports these when the process (or the system) is out of
# descriptors or socket memory; it then pauses that listener for a second and retries
ACCEPT_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# a failure this long after the last one starts a new episode, which is logged again
ACCEPT_EPISODE_GAP_SECONDS = 60.0


class AcceptFailures:
    """An event loop's exception handler that logs a listener out of descriptors once
    per episode.

    asyncio reports every connection its accept loop could not take, with a traceback:
    up to the listen backlog's length (4,096 here) each time it retries, once a second
    per listener, so an exhausted node wrote ~85 MB of log in a minute, and the writing
    slowed it further. Every other report goes to asyncio's own handler."""

    def __init__(self) -> None:
        self.failures = 0  # in the current episode
        self._last: float | None = None

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if not (
            isinstance(error, OSError)
            and error.errno in ACCEPT_RESOURCE_ERRNOS
            and str(context.get("message", "")).startswith("socket.accept()")
        ):
            loop.default_exception_handler(context)
            return
        now = time.monotonic()
        episode_over = self._last is None or now - self._last >= ACCEPT_EPISODE_GAP_SECONDS
        self._last = now
        if not episode_over:
            self.failures += 1
            return
        previous, self.failures = self.failures, 1
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        log(
            "accept_failed",
            "warning",
            error=error.strerror or str(error),
            open_files_limit=soft,
            previous_episode_failures=previous,
            remedy="connections wait in the listen backlog and are taken once descriptors "
            "free up; if this repeats, raise the node's open-file limit (ulimit -n, "
            "LimitNOFILE) or lower [limits] long_polls and event_streams",
        )


def quiet_accept_failures(loop: asyncio.AbstractEventLoop) -> None:
    """Install `AcceptFailures` as `loop`'s exception handler (see there)."""
    loop.set_exception_handler(AcceptFailures())
