"""The local testnet of the current directory: where `pasar up` keeps its nodes and keys.

`pasar up` reads `network.toml` and keeps everything under its `data_dir` (default
`.pasar`, relative to the network file). There it records the nodes it runs in
`network.json`; other commands run from the same directory read that record, so
`--node` defaults to the first validator of that network and `--keys-dir` to its
`keys/` folder, whatever ports the network file chose.

Resolution of `--node` when it is not given:
  1. the first validator recorded in `<data_dir>/network.json` of `./network.toml`
     (or of `./.pasar` when there is no network file in the current directory);
  2. the `PASAR_NODE` environment variable;
  3. `http://127.0.0.1:26600` (the first validator of the default network.toml).
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

NETWORK_FILE = "network.toml"
DEFAULT_DATA_DIR = ".pasar"
MARKER_FILE = "network.json"
KEYS_DIR = "keys"
NODE_ENV = "PASAR_NODE"
FALLBACK_NODE_URL = "http://127.0.0.1:26600"


def data_dir_of(network_path: Path, document: dict[str, Any]) -> Path:
    """The absolute data directory a network file names (relative to the file's folder)."""
    data_dir = document.get("data_dir", DEFAULT_DATA_DIR)
    if not isinstance(data_dir, str):
        data_dir = DEFAULT_DATA_DIR
    return (network_path.resolve().parent / data_dir).resolve()


def local_data_dir(cwd: Path | None = None) -> Path:
    """The data directory of the network `pasar up` runs from `cwd` (default: here)."""
    here = Path.cwd() if cwd is None else cwd
    network_path = here / NETWORK_FILE
    try:
        document = tomllib.loads(network_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        # No readable network file here: `pasar up`'s default data directory.
        return (here / DEFAULT_DATA_DIR).resolve()
    return data_dir_of(network_path, document)


def recorded_nodes(data_dir: Path) -> list[dict[str, Any]]:
    """The nodes `pasar up` recorded in `data_dir` (empty when there is no valid record)."""
    try:
        record = json.loads((data_dir / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []
    nodes = record.get("nodes") if isinstance(record, dict) else None
    if not isinstance(nodes, list):
        return []
    return [n for n in nodes if isinstance(n, dict) and isinstance(n.get("rpc_url"), str)]


def default_node_url(cwd: Path | None = None) -> str:
    """`--node` when not given: this directory's testnet, then PASAR_NODE, then port 26600."""
    nodes = recorded_nodes(local_data_dir(cwd))
    if nodes:
        return str(nodes[0]["rpc_url"])
    return os.environ.get(NODE_ENV) or FALLBACK_NODE_URL


def default_keys_dir(cwd: Path | None = None) -> Path:
    """`--keys-dir` when not given: the keys folder of this directory's testnet."""
    return local_data_dir(cwd) / KEYS_DIR
