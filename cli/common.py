"""What every `pasar` command shares: options, output and one-line errors.

Commands take `--node URL` and `--json`; human output is the default. Without
`--node`, a command talks to the first validator of the testnet `pasar up` runs
from the current directory, else PASAR_NODE, else port 26600 (cli/local.py).
Any error ends up as one line on stderr with a non-zero exit code:
`CliError` is a `click.ClickException`, and `PasarGroup` turns every other
exception into one as well, so a user never sees a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from cli import local

F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """A failure explained in one line."""


class PasarGroup(click.Group):
    """A click group that reports any failure as one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except KeyboardInterrupt as exc:
            raise click.Abort() from exc
        except BrokenPipeError:
            # The reader went away (`pasar ... | head`): click ends quietly, no message.
            raise
        except Exception as exc:  # the one place that turns surprises into a clear line
            message = str(exc) or type(exc).__name__
            raise CliError(message.splitlines()[0] if message else type(exc).__name__) from exc


@dataclass(frozen=True)
class Output:
    """Where a command's result goes: JSON for scripts or lines for people."""

    json_mode: bool

    def emit(self, data: Any, human: Callable[[Any], list[str]] | None = None) -> None:
        if self.json_mode:
            click.echo(json.dumps(data, indent=2, sort_keys=True))
            return
        lines = human(data) if human is not None else describe(data)
        for line in lines:
            click.echo(line)


def describe(data: Any, indent: str = "") -> list[str]:
    """A plain `key: value` rendering of a JSON value for people."""
    if isinstance(data, dict):
        lines: list[str] = []
        for key, value in data.items():
            if isinstance(value, dict | list) and value:
                if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
                    lines.append(f"{indent}{key}: {', '.join(str(v) for v in value)}")
                    continue
                lines.append(f"{indent}{key}:")
                lines.extend(describe(value, indent + "  "))
            else:
                lines.append(f"{indent}{key}: {compact(value)}")
        return lines
    if isinstance(data, list):
        lines = []
        for item in data:
            if isinstance(item, dict):
                sub = describe(item, indent + "  ")
                if sub:
                    lines.append(f"{indent}- {sub[0].strip()}")
                    lines.extend(sub[1:])
            else:
                lines.append(f"{indent}- {compact(item)}")
        return lines
    return [f"{indent}{compact(data)}"]


def compact(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"hex"}:
        return f"0x{value['hex']}"
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _node_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    return value if value else local.default_node_url()


def node_url_option(function: F) -> F:
    return click.option(
        "--node",
        "node_url",
        callback=_node_url,
        help=(
            "base URL of a node's RPC [default: the first validator of the testnet "
            "`pasar up` runs from this directory, else PASAR_NODE, else "
            f"{local.FALLBACK_NODE_URL}]"
        ),
    )(function)


def _keys_dir(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
    return value if value is not None else local.default_keys_dir()


def json_option(function: F) -> F:
    return click.option("--json", "json_mode", is_flag=True, help="machine-readable JSON output")(
        function
    )


def keys_dir_option(function: F) -> F:
    return click.option(
        "--keys-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="PASAR_KEYS_DIR",
        callback=_keys_dir,
        help=(
            "where key names resolve to NAME.json (or PASAR_KEYS_DIR) [default: the keys/ "
            "folder of the testnet `pasar up` runs from this directory, else .pasar/keys]"
        ),
    )(function)


def passphrase_file_option(function: F) -> F:
    return click.option(
        "--passphrase-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="read the key passphrase from this file (or PASAR_PASSPHRASE, or a prompt)",
    )(function)


def hex_digits(text: str) -> str:
    """The hex digits of an identifier as people copy it: `0x…` (as human output shows
    bytes) and bare hex are the same id."""
    text = text.strip()
    return text[2:] if text[:2] in ("0x", "0X") else text


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")
