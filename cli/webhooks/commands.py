"""`pasar webhooks run|log|redeliver|test|enable|secret`: operate the relay."""

from __future__ import annotations

import json
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from cli.common import CliError, Output
from cli.webhooks.config import RelayConfig, load_config
from cli.webhooks.relay import post, run_relay
from cli.webhooks.signing import new_secret
from cli.webhooks.store import RelayStore

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("webhooks.toml"),
    show_default=True,
    envvar="PASAR_WEBHOOKS_CONFIG",
    help="relay configuration (TOML)",
)
json_option = click.option("--json", "json_mode", is_flag=True, help="print JSON")


def _open(config_path: Path) -> tuple[RelayConfig, RelayStore]:
    config = load_config(config_path)
    return config, RelayStore(config.database)


@click.group("webhooks")
def webhooks() -> None:
    """Deliver chain events to merchants' endpoints as signed webhooks."""


@webhooks.command("run")
@config_option
def run_command(config_path: Path) -> None:
    """Follow the node's event stream and deliver until SIGTERM or Ctrl-C."""
    config = load_config(config_path)
    if not config.endpoints:
        raise CliError(f"{config_path} configures no [[endpoints]]")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(
        f"relaying {config.node} ({len(config.nodes)} node(s) listed)"
        f" to {len(config.endpoints)} endpoint(s)",
        err=True,
    )
    try:
        run_relay(config, stop)
    except KeyboardInterrupt:
        stop.set()


def _log_line(entry: dict[str, Any]) -> str:
    at = datetime.fromtimestamp(entry["at"], UTC).strftime("%Y-%m-%d %H:%M:%S")
    status = entry["status"] if entry["status"] is not None else "-"
    excerpt = " ".join(str(entry["excerpt"]).split())[:60]
    return (
        f"{at} {entry['endpoint']} {entry['event_id']} attempt {entry['attempt']}"
        f" {entry['outcome']} {status} {entry['latency_ms']} ms {excerpt}"
    )


@webhooks.command("log")
@config_option
@click.option("--event", "event_id", help="only this event id")
@click.option("--endpoint", help="only this endpoint")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@json_option
def log_command(
    config_path: Path, event_id: str | None, endpoint: str | None, limit: int, json_mode: bool
) -> None:
    """Delivery attempts, newest first: status code, latency, response excerpt."""
    _, store = _open(config_path)
    entries = store.log(event_id, endpoint, limit)
    Output(json_mode).emit(entries, lambda rows: [_log_line(row) for row in rows])


@webhooks.command("redeliver")
@config_option
@click.argument("event_id")
@click.option("--endpoint", help="only to this endpoint (default: every one it went to)")
def redeliver_command(config_path: Path, event_id: str, endpoint: str | None) -> None:
    """Queue an event again with the same id (a running relay sends it)."""
    _, store = _open(config_path)
    count = store.redeliver(event_id, endpoint, time.time())
    if count == 0:
        raise CliError(f"no delivery of {event_id} in the outbox")
    click.echo(f"queued {event_id} for {count} endpoint(s)")


@webhooks.command("enable")
@config_option
@click.argument("endpoint")
def enable_command(config_path: Path, endpoint: str) -> None:
    """Re-enable an endpoint disabled after a run of failures."""
    config, store = _open(config_path)
    config.endpoint(endpoint)
    count = store.enable(endpoint, time.time())
    click.echo(f"enabled {endpoint}; {count} waiting message(s) due now")


@webhooks.command("test")
@config_option
@click.argument("endpoint")
@json_option
def test_command(config_path: Path, endpoint: str, json_mode: bool) -> None:
    """Send one signed `webhook.test` message to an endpoint now and show the answer."""
    config, store = _open(config_path)
    target = config.endpoint(endpoint)
    now = time.time()
    event_id = f"test_{int(now * 1000)}"
    body = json.dumps(
        {"type": "webhook.test", "timestamp_ms": int(now * 1000), "data": {"id": event_id}},
        sort_keys=True,
        separators=(",", ":"),
    )
    started = time.monotonic()
    status, excerpt, ok = post(target, event_id, body, config.retry.timeout_s)
    latency_ms = int((time.monotonic() - started) * 1000)
    store.log_test(endpoint, event_id, now, status, latency_ms, excerpt, ok)
    result = {
        "endpoint": endpoint,
        "event_id": event_id,
        "status": status,
        "ok": ok,
        "latency_ms": latency_ms,
        "excerpt": excerpt[:200],
    }
    Output(json_mode).emit(result)
    if not ok:
        raise CliError(f"{endpoint} did not accept the test message")


@webhooks.command("secret")
def secret_command() -> None:
    """Print a new random whsec_ secret."""
    click.echo(new_secret())


def register(group: click.Group) -> None:
    group.add_command(webhooks)
