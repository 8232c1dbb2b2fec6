"""`pasar up`: run the local testnet that network.toml describes.

On first start it creates one validator home per [[validators]] entry under
`<data_dir>/nodes/` (node/home.py's `create_testnet`, plaintext keys: this is a
local throw-away network), writes the development account keys to
`<data_dir>/keys/<name>.json` and records the nodes in `<data_dir>/network.json`
(cli/local.py reads it to pick the default `--node`). The data directory is
absolute: `data_dir` of the network file is taken relative to that file, and
`--data-dir` relative to the current directory. A data directory whose homes do
not match the network file (another chain id, genesis, validators or ports) is
refused rather than run. Then it starts every validator as its own process
(`python -m cli.main node --home ABSOLUTE_HOME`, working directory = that home,
so nothing depends on where the command or the package lives), prints each
node's RPC URL, streams their logs with a name prefix, and on Ctrl-C or SIGTERM
stops each child by its PID (SIGTERM, then SIGKILL after a grace period).
`--reset` wipes the data directory first, but only one that `pasar up` created.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

import click

from cli import local
from cli.common import CliError
from cli.network import Network, load_network, network_app_state
from node import home as homes
from node.keyfile import write_key_file

MARKER_FILE = local.MARKER_FILE
NODES_DIR = "nodes"
STOP_GRACE_SECONDS = 10.0
# The directory this `pasar` was imported from (a checkout or site-packages).
IMPORT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class LocalNode:
    name: str
    home: Path
    rpc_url: str


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wipe(data_dir: Path) -> None:
    """Delete a data directory, but only one `pasar up` made (it holds the marker)."""
    if not data_dir.exists():
        return
    if not (data_dir / MARKER_FILE).is_file() and any(data_dir.iterdir()):
        raise CliError(f"refusing to wipe {data_dir}: it was not created by `pasar up`")
    shutil.rmtree(data_dir)


def prepare(network: Network, network_path: Path, data_dir: Path) -> list[LocalNode]:
    """Create homes, genesis and key files on first start; check and reuse them afterwards."""
    marker = data_dir / MARKER_FILE
    if marker.is_file():
        return existing_nodes(network, network_path, data_dir)
    if data_dir.exists() and any(data_dir.iterdir()):
        raise CliError(f"{data_dir} exists but holds no testnet; remove it or use --reset")
    created = homes.create_testnet(
        data_dir / NODES_DIR,
        [v.name for v in network.validators],
        base_port=network.base_port,
        chain_id=network.chain_id,
        genesis_time_ms=network.genesis_time_ms,
        app_state=network_app_state(network),
        insecure=True,
    )
    for account in network.accounts:
        write_key_file(
            data_dir / local.KEYS_DIR / f"{account.name}.json",
            account.key(),
            None,
            insecure_plaintext=True,
            overwrite=True,
        )
    nodes = [LocalNode(n.name, n.home, n.rpc_url) for n in created]
    marker.write_text(
        json.dumps(
            {
                "chain_id": network.chain_id,
                "network_file": str(network_path),
                "network_sha256": fingerprint(network_path),
                "nodes": [
                    {"name": n.name, "home": str(n.home), "rpc_url": n.rpc_url} for n in nodes
                ],
            },
            indent=2,
        )
        + "\n"
    )
    return nodes


def existing_nodes(network: Network, network_path: Path, data_dir: Path) -> list[LocalNode]:
    """The homes under `data_dir`, refused unless they are the chain the network file makes."""
    names = [v.name for v in network.validators]
    recorded = [str(item.get("name")) for item in local.recorded_nodes(data_dir)]
    advice = (
        f"{data_dir} holds another chain than {network_path} describes; "
        "run `pasar up --reset` to start a new chain, or choose another --data-dir"
    )
    if recorded != names:
        raise CliError(f"{advice} (validators {recorded} there, {names} in the file)")
    expected_app_state = homes.app_state_from_json(network_app_state(network))
    nodes: list[LocalNode] = []
    genesis_hashes: set[bytes] = set()
    for index, name in enumerate(names):
        # Homes are found from the data directory, never from a recorded (maybe relative) path.
        home_path = data_dir / NODES_DIR / name
        try:
            home = homes.load_home(home_path)
        except homes.HomeError as exc:
            raise CliError(f"{advice} ({exc})") from exc
        rpc_port, p2p_port = homes.testnet_ports(index, network.base_port)
        differences = [
            what
            for what, same in (
                ("chain_id", home.genesis.chain_id == network.chain_id),
                ("genesis_time_ms", home.genesis.genesis_time_ms == network.genesis_time_ms),
                ("genesis app_state", home.genesis.app_state == expected_app_state),
                ("validator names", [n for _, n in home.genesis.validators] == names),
                ("node name", home.config.name == name),
                ("ports", (home.config.rpc_port, home.config.p2p_port) == (rpc_port, p2p_port)),
            )
            if not same
        ]
        if differences:
            raise CliError(f"{advice} ({name}: different {', '.join(differences)})")
        genesis_hashes.add(home.genesis.hash)
        nodes.append(LocalNode(name, home_path, f"http://{home.config.rpc_host}:{rpc_port}"))
    if len(genesis_hashes) != 1:
        raise CliError(f"{advice} (its homes do not share one genesis)")
    return nodes


def node_command(home: Path) -> list[str]:
    return [sys.executable, "-m", "cli.main", "node", "--home", str(home)]


def child_environment() -> dict[str, str]:
    """The children run the same `pasar` code as this process, wherever they start.

    An installed package (wheel or editable) is importable by the same interpreter
    anywhere; only a checkout run as `python -m cli.main` without installing needs
    its directory on PYTHONPATH, since the children start in their home directories.
    """
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    site_dirs = {Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
    if IMPORT_ROOT not in site_dirs:
        existing = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(IMPORT_ROOT) + (os.pathsep + existing if existing else "")
    return env


def stream(name: str, width: int, pipe: IO[str]) -> None:
    for line in pipe:
        click.echo(f"{name:<{width}} | {line.rstrip()}")


def run(nodes: list[LocalNode]) -> int:
    """Start the nodes, stream their logs, stop them on a signal; return an exit code."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    width = max(len(n.name) for n in nodes)
    processes: list[tuple[LocalNode, subprocess.Popen[str]]] = []
    threads: list[threading.Thread] = []
    try:
        for node in nodes:
            process = subprocess.Popen(
                node_command(node.home),
                cwd=node.home,
                env=child_environment(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                # Own session: a terminal's Ctrl-C reaches only us; we stop each child.
                start_new_session=True,
            )
            processes.append((node, process))
            if process.stdout is not None:
                thread = threading.Thread(
                    target=stream, args=(node.name, width, process.stdout), daemon=True
                )
                thread.start()
                threads.append(thread)
        for node, process in processes:
            click.echo(f"{node.name:<{width}} | rpc {node.rpc_url}  pid {process.pid}")
        first = nodes[0].rpc_url if nodes else ""
        click.echo(f"wallet   {first}/wallet\nexplorer {first}/explorer")
        click.echo(f"operator {first}/operator")
        click.echo(f"shop     {first}/shop\nseller   {first}/seller")
        click.echo("Ctrl-C stops all nodes.")
        reported: set[int] = set()
        while not stop.wait(0.2):
            for node, process in processes:
                code = process.poll()
                if code is not None and process.pid not in reported:
                    reported.add(process.pid)
                    click.echo(f"{node.name:<{width}} | exited with code {code}", err=True)
            if len(reported) == len(processes):
                break
    finally:
        stop_all([process for _, process in processes])
        for thread in threads:
            thread.join(timeout=2)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    failed = any(process.returncode not in (0, -signal.SIGTERM) for _, process in processes)
    return 1 if failed and not stop.is_set() else 0


def stop_all(processes: list[subprocess.Popen[str]]) -> None:
    """SIGTERM each running child by PID, then SIGKILL those that outlive the grace period."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@click.command("up")
@click.option(
    "--network",
    "network_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="network.toml",
    show_default=True,
)
@click.option("--reset", is_flag=True, help="wipe the data directory and start a new chain")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="default: data_dir of network.toml, relative to that file",
)
@click.option("--init-only", is_flag=True, help="create homes and keys, then exit")
def up(network_path: Path, reset: bool, data_dir: Path | None, init_only: bool) -> None:
    """Start the local testnet described by network.toml."""
    network = load_network(network_path)  # errors name the file as the user gave it
    network_path = network_path.resolve()
    chosen = data_dir if data_dir is not None else network_path.parent / network.data_dir
    target = chosen.resolve()
    if reset:
        wipe(target)
    try:
        nodes = prepare(network, network_path, target)
    except homes.HomeError as exc:
        raise CliError(str(exc)) from exc
    if init_only:
        for node in nodes:
            click.echo(f"{node.name}\trpc={node.rpc_url}\thome={node.home}")
        click.echo(f"keys: {target / 'keys'}")
        return
    click.echo(
        f"keys of {', '.join(a.name for a in network.accounts)} are in {target / 'keys'}; "
        "e.g. pasar tx transfer --from buyer --to seller --asset IDRA --amount 1000 --wait"
    )
    code = run(nodes)
    if code:
        raise CliError("a node stopped unexpectedly (see its log lines above)")


def register(group: click.Group) -> None:
    group.add_command(up)
