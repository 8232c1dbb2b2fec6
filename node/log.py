"""Structured one-line logs: `ts=... level=info event=block_committed height=5 ...`.

Values with spaces or quotes are quoted so every line splits cleanly on spaces;
bytes are shown as short hex. Logs go to stderr through the `pasar` logger so a
test or an embedding program can capture or silence them.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

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


def configure(node_name: str, level: str = "info") -> None:
    """Send logs to stderr, one line each, tagged with the node's name."""
    _context.clear()
    _context["node"] = node_name
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level.upper())
    LOGGER.propagate = False
