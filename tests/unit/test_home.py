"""Home directories: config and genesis round trips, testnet generation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts.registry import APPLICATION
from ledger.execution import apply_genesis
from ledger.keys import PrivateKey, address_to_text
from ledger.kv import MemoryStore
from node import keyfile
from node.home import (
    BlockLimits,
    HomeError,
    NodeConfig,
    PeerConfig,
    app_state_from_json,
    config_from_toml,
    config_to_toml,
    create_testnet,
    genesis_from_json,
    genesis_to_json,
    json_to_canonical,
    load_home,
)


def test_config_round_trips_through_toml() -> None:
    peer = PeerConfig("b", PrivateKey.from_seed(bytes(32)).public_key, "http://127.0.0.1:9")
    config = NodeConfig(
        chain_id="c",
        name="a",
        rpc_port=1234,
        rpc_front=False,
        peers=(peer,),
        block=BlockLimits(7, 8, 9),
        state_versions_kept=7,
        state_tree_cache_mb=5,
        censorship_timeout_ms=60_000,
    )
    assert config_from_toml(config_to_toml(config)) == config
    with pytest.raises(HomeError, match="censorship_timeout_ms must be at least 1"):
        config_from_toml('chain_id = "c"\nname = "a"\ncensorship_timeout_ms = 0\n')


def test_config_rejects_wrong_types() -> None:
    with pytest.raises(HomeError, match="rpc.port"):
        config_from_toml('chain_id = "c"\nname = "a"\n[rpc]\nport = "x"\n')
    with pytest.raises(HomeError, match="rpc.front must be true or false, not 'yes'"):
        config_from_toml('chain_id = "c"\nname = "a"\n[rpc]\nfront = "yes"\n')
    assert config_from_toml('chain_id = "c"\nname = "a"\n').rpc_front is True


def test_config_refuses_tree_settings_that_cannot_work() -> None:
    # a tree keeping no version could not prove even the latest state; a negative cache
    # size means nothing: both are refused with the setting named, not quietly clamped
    base = 'chain_id = "c"\nname = "a"\n'
    with pytest.raises(HomeError, match="state_versions_kept must be at least 1"):
        config_from_toml(base + "state_versions_kept = 0\n")
    with pytest.raises(HomeError, match="state_tree_cache_mb must be a non-negative integer"):
        config_from_toml(base + "state_tree_cache_mb = -1\n")
    assert config_from_toml(base + "state_tree_cache_mb = 0\n").state_tree_cache_mb == 0
    assert config_from_toml(base + "state_versions_kept = 1\n").state_versions_kept == 1


def test_json_mapping_turns_addresses_and_hex_into_bytes() -> None:
    key = PrivateKey.from_seed(bytes([1]) * 32).public_key
    value = json_to_canonical([address_to_text(key), {"hex": "00ff"}, "pasar1nope", 5, None])
    assert value == [key, b"\x00\xff", "pasar1nope", 5, None]
    with pytest.raises(HomeError):
        json_to_canonical(1.5)
    with pytest.raises(HomeError):
        json_to_canonical({"a": 1})


def test_app_state_sections_are_sorted_by_name() -> None:
    assert app_state_from_json({"roles": [], "coin": [[], []]}) == [
        ["coin", [[], []]],
        ["roles", []],
    ]


def test_genesis_json_round_trip_and_coin_section_applies() -> None:
    issuer = PrivateKey.from_seed(bytes([2]) * 32).public_key
    document = {
        "chain_id": "t",
        "genesis_time_ms": 5,
        "validators": [{"name": "v", "key": address_to_text(issuer)}],
        "app_state": {
            "coin": [
                [["IDR", "Rupiah", 2, address_to_text(issuer), 10**12, "platform"]],
                [[address_to_text(issuer), "IDR", 500]],
            ]
        },
    }
    genesis = genesis_from_json(document)
    assert genesis_from_json(genesis_to_json(genesis)) == genesis
    result = apply_genesis(APPLICATION, MemoryStore(), genesis)
    assert any(key.startswith(b"coin/bal/" + issuer) for key, _ in result.write_set)


def test_genesis_with_duplicate_validators_is_refused() -> None:
    key = address_to_text(PrivateKey.from_seed(bytes(32)).public_key)
    document = {
        "chain_id": "t",
        "genesis_time_ms": 0,
        "validators": [{"name": "a", "key": key}, {"name": "b", "key": key}],
    }
    with pytest.raises(HomeError):
        genesis_from_json(document)


def test_create_testnet_writes_consistent_homes(tmp_path: Path) -> None:
    nodes = create_testnet(tmp_path, ["a", "b", "c"], base_port=30000, insecure=True)
    homes = [load_home(node.home) for node in nodes]
    assert len({home.genesis.hash for home in homes}) == 1
    assert [home.config.rpc_port for home in homes] == [30000, 30002, 30004]
    assert homes[0].load_key(None).public_key == nodes[0].key
    assert {peer.name for peer in homes[0].config.peers} == {"b", "c"}
    assert homes[1].config.peers[0].url == "http://127.0.0.1:30001"
    document = json.loads((nodes[0].home / "genesis.json").read_text())
    assert [v["name"] for v in document["validators"]] == ["a", "b", "c"]
    with pytest.raises(HomeError):
        create_testnet(tmp_path, ["a"], insecure=True)  # refuses to overwrite


def test_create_testnet_needs_a_passphrase_or_the_insecure_flag(tmp_path: Path) -> None:
    with pytest.raises(HomeError):
        create_testnet(tmp_path, ["a"])
    nodes = create_testnet(tmp_path, ["a"], passphrase="correct horse")
    assert load_home(nodes[0].home).load_key("correct horse").public_key == nodes[0].key
    # A validator key is derived once per start: it gets a stronger cost than account keys.
    kdf = json.loads((nodes[0].home / "validator.key").read_text())["kdf"]
    assert kdf["opslimit"] == keyfile.VALIDATOR_OPSLIMIT > keyfile.DEFAULT_OPSLIMIT
    assert kdf["memlimit"] == keyfile.VALIDATOR_MEMLIMIT > keyfile.DEFAULT_MEMLIMIT


def test_hosts_are_assigned_per_validator(tmp_path: Path) -> None:
    nodes = create_testnet(tmp_path, ["a", "b"], hosts=["10.0.0.1", "10.0.0.2"], insecure=True)
    assert [node.rpc_url for node in nodes] == ["http://10.0.0.1:26600", "http://10.0.0.2:26602"]
    with pytest.raises(HomeError):
        create_testnet(tmp_path / "x", ["a", "b", "c"], hosts=["h1", "h2"], insecure=True)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "[mempool]\nbacklog_seconds = 4\n",
            "mempool.backlog_seconds (it was replaced by mempool.backlog_ms",
        ),
        ("[block]\nmax_tx = 10\n", "unknown setting block.max_tx (known: max_txs,"),
        ("view_timeout = 3000\n", "unknown setting view_timeout (known: chain_id,"),
        ('[[peers]]\nname = "v1"\nadress = "x"\n', "unknown setting peers[0].adress"),
        ("[rpc]\nbind = 1\n", "unknown setting rpc.bind"),
    ],
)
def test_config_refuses_unknown_settings_with_what_to_write(extra: str, message: str) -> None:
    """A typo or a renamed key would otherwise leave the default silently in force."""
    with pytest.raises(HomeError) as raised:
        config_from_toml('chain_id = "c"\nname = "a"\n' + extra)
    assert message in str(raised.value)


def test_config_defaults_fill_missing_tables() -> None:
    config = config_from_toml('chain_id = "c"\nname = "a"\n')
    assert config.block == BlockLimits()
    assert config.peers == ()
