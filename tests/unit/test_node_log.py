"""Structured log lines split cleanly into key=value pairs."""

from __future__ import annotations

import shlex

from node.log import format_line


def test_log_line_is_key_value_and_quotes_spaces() -> None:
    line = format_line("peer_refused", "info", {"reason": "not a validator", "key": b"\x01\x02"})
    pairs = dict(item.split("=", 1) for item in shlex.split(line))
    assert pairs["event"] == "peer_refused"
    assert pairs["reason"] == "not a validator"
    assert pairs["key"] == "0102"
