"""`pasar node` on a data directory it cannot use: one line, exit 1, nothing served."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from contracts.registry import APPLICATION
from ledger.keys import PrivateKey, address_to_text
from ledger.state_tree import FORMAT_KEY, STORED_INTERNAL, node_key, read_node
from node.chain import Chain
from node.home import create_testnet, load_home
from node.storage import LevelDBStore


def test_a_data_directory_in_the_earlier_tree_layout_stops_the_node_in_one_line(
    tmp_path: Path,
) -> None:
    holders = [PrivateKey.from_seed(bytes([n + 1]) * 32).public_key for n in range(8)]
    coin = [
        [["IDR", "Rupiah", 0, address_to_text(holders[0]), 10**15, "open"]],
        [[address_to_text(holder), "IDR", 10] for holder in holders],
    ]
    node = create_testnet(
        tmp_path, ["a"], base_port=30900, app_state={"coin": coin}, insecure=True
    )[0]
    home = load_home(node.home)
    with LevelDBStore(home.data_dir) as store:
        Chain(store, APPLICATION, home.genesis)  # genesis written, as on a first start
        root = read_node(store, 0, b"")
        assert root is not None and root[0] == STORED_INTERNAL
        # What a release before this format left: no format entry, nodes beginning 04.
        store.write({node_key(0, b""): b"\x04" + root[1:], FORMAT_KEY: None})
    result = CliRunner().invoke(cli, ["node", "--home", str(node.home)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and "earlier release" in lines[0] and "move the data" in lines[0]
