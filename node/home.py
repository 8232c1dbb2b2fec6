"""A validator's home directory: configuration, genesis, key file and data.

    <home>/config.toml     node settings (chain id, name, RPC and P2P addresses, peers, limits)
    <home>/genesis.json    the shared genesis in readable JSON (same bytes on every validator)
    <home>/validator.key   the validator's signing key (node.keyfile format)
    <home>/data/           LevelDB (created on first start)

genesis.json maps to the canonical `ledger.genesis.Genesis` with one generic rule
set, so contracts can add app_state sections without touching this module:

    JSON integer, text, boolean, null, array   -> the same canonical value
    text that is a valid account address        -> the 32 account bytes
    {"hex": "..."}                              -> bytes
    app_state object {"section": value, ...}    -> [[section, value], ...] sorted by name

Address text carries a checksum, so ordinary text is never mistaken for an account.
`create_testnet` writes N homes sharing one genesis; `pasar testnet` and `pasar up`
both use it.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ledger.chainstore import KEEP_TREE_VERSIONS
from ledger.genesis import Genesis
from ledger.keys import PUBLIC_KEY_SIZE, PrivateKey, address_from_text, address_to_text
from ledger.state_tree import DEFAULT_HASH_MEMO_BYTES
from node import keyfile

CONFIG_FILE = "config.toml"
GENESIS_FILE = "genesis.json"
KEY_FILE = "validator.key"
DATA_DIR = "data"
DEFAULT_BASE_PORT = 26600
DEFAULT_CHAIN_ID = "pasar-testnet"


class HomeError(Exception):
    """A home directory that is missing, incomplete or malformed."""


@dataclass(frozen=True, slots=True)
class PeerConfig:
    name: str
    key: bytes
    url: str  # base URL of the peer's P2P listener, e.g. "http://10.0.0.2:26601"


@dataclass(frozen=True, slots=True)
class BlockLimits:
    max_txs: int = 2_000
    max_bytes: int = 2 * 1024 * 1024
    interval_ms: int = 200  # how long the primary waits to fill a block that is not full
    # first estimate of the time to check one transaction of a block (then measured):
    # a proposal holds no more than validates in a quarter of the view timeout
    validate_us_per_tx: int = 500


@dataclass(frozen=True, slots=True)
class MempoolLimits:
    """How much the mempool admits (docs/node.md, "Admission").

    The admit limit follows the measured committed rate: `backlog_ms` of it, never
    below `floor_txs` nor above the hard cap `max_txs`; one sender holds at most
    `sender_share_percent` of that limit and never more than `max_per_sender`.
    Transactions behind a nonce gap (no block can take them until their sender's
    earlier nonce comes) take none of that limit's room: clients may add them up to
    `gap_share_percent` of it, all senders together."""

    max_txs: int = 50_000
    max_bytes: int = 64 * 1024 * 1024
    max_per_sender: int = 1_000
    floor_txs: int = 2_000  # one full block of the default [block] max_txs
    backlog_ms: int = 600
    sender_share_percent: int = 25
    gap_share_percent: int = 10


@dataclass(frozen=True, slots=True)
class ServiceLimits:
    """What one node grants to outsiders at once (docs/node.md, "Limits")."""

    event_streams: int = 128  # open /v1/events streams, all clients
    event_streams_per_client: int = 8  # open /v1/events streams from one IP address
    long_polls: int = 4_096  # concurrent GET /v1/txs/{hash}?wait= and /v1/blocks/{h}?wait=
    request_timeout_ms: int = 10_000  # to send a request's headers, and then its body
    # for the node to begin answering a request its RPC front relayed (0: no limit)
    answer_timeout_ms: int = 30_000
    p2p_unauthenticated: int = 16  # peer connections that have not finished the handshake
    handshake_timeout_ms: int = 5_000  # to finish the peer handshake after connecting


@dataclass(frozen=True, slots=True)
class GcSettings:
    """How the node tunes CPython's cyclic garbage collector once started (node/gc_tuning.py).

    `gen0_threshold = 0` and `freeze = false` keep the interpreter's behaviour."""

    gen0_threshold: int = 50_000  # 0 keeps the interpreter's thresholds (700, 10, 10)
    freeze: bool = True  # move the objects that exist once the node has started out of GC


# what gen0_threshold may be besides 0: below 100 collections would run more often than
# the interpreter's own; above a million, garbage cycles would hold memory for too long
GC_GEN0_THRESHOLD_RANGE = (100, 1_000_000)


@dataclass(frozen=True)
class NodeConfig:
    chain_id: str
    name: str
    rpc_host: str = "127.0.0.1"
    rpc_port: int = DEFAULT_BASE_PORT
    # a process of its own owns the RPC port and answers 429s itself (node/rpc_front.py)
    rpc_front: bool = True
    p2p_host: str = "127.0.0.1"
    p2p_port: int = DEFAULT_BASE_PORT + 1
    peers: tuple[PeerConfig, ...] = ()
    block: BlockLimits = field(default_factory=BlockLimits)
    mempool: MempoolLimits = field(default_factory=MempoolLimits)
    limits: ServiceLimits = field(default_factory=ServiceLimits)
    gc: GcSettings = field(default_factory=GcSettings)
    max_clock_drift_ms: int = 5_000
    view_timeout_ms: int = 2_000
    censorship_timeout_ms: int = 10_000
    state_versions_kept: int = KEEP_TREE_VERSIONS
    state_tree_cache_mb: int = DEFAULT_HASH_MEMO_BYTES >> 20


@dataclass(frozen=True)
class Home:
    """A loaded home directory (the key stays on disk until `load_key`)."""

    path: Path
    config: NodeConfig
    genesis: Genesis

    @property
    def data_dir(self) -> Path:
        return self.path / DATA_DIR

    @property
    def key_path(self) -> Path:
        return self.path / KEY_FILE

    def load_key(self, passphrase: str | None = None) -> PrivateKey:
        return read_validator_key(self.key_path, passphrase)


# --- genesis JSON <-> canonical -------------------------------------------------------


def json_to_canonical(value: Any, where: str = "app_state") -> Any:
    """Map a JSON value to the canonical value set by the rules in the module docstring."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        raise HomeError(f"{where}: numbers must be integers (no floats in genesis)")
    if isinstance(value, str):
        return _maybe_address(value)
    if isinstance(value, list):
        return [json_to_canonical(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        if set(value) == {"hex"} and isinstance(value["hex"], str):
            try:
                return bytes.fromhex(value["hex"])
            except ValueError as exc:
                raise HomeError(f"{where}: bad hex: {exc}") from exc
        raise HomeError(f"{where}: objects are only allowed as {{'hex': ...}} (use arrays)")
    raise HomeError(f"{where}: unsupported JSON value {value!r}")


def canonical_to_json(value: Any) -> Any:
    """The inverse mapping: 32-byte values become address text, other bytes {"hex"}."""
    if isinstance(value, bytes):
        if len(value) == PUBLIC_KEY_SIZE:
            return address_to_text(value)
        return {"hex": value.hex()}
    if isinstance(value, list | tuple):
        return [canonical_to_json(item) for item in value]
    return value


def _maybe_address(text: str) -> str | bytes:
    if not text.startswith("pasar1"):
        return text
    try:
        return address_from_text(text)
    except ValueError:
        return text


def app_state_from_json(sections: Mapping[str, Any]) -> list[list[Any]]:
    """{"coin": ..., "roles": ...} -> [[name, value], ...] in name order."""
    if not isinstance(sections, Mapping):
        raise HomeError("app_state must be an object of contract sections")
    return [
        [name, json_to_canonical(sections[name], f"app_state.{name}")] for name in sorted(sections)
    ]


def app_state_to_json(app_state: Any) -> dict[str, Any]:
    if not isinstance(app_state, list):
        raise HomeError("canonical app_state must be a list of [name, value] sections")
    return {str(name): canonical_to_json(value) for name, value in app_state}


def genesis_from_json(document: Mapping[str, Any]) -> Genesis:
    """Build the canonical genesis from its JSON document (raise HomeError if malformed)."""
    try:
        chain_id = document["chain_id"]
        time_ms = document["genesis_time_ms"]
        validators = [
            (address_from_text(item["key"]), str(item["name"])) for item in document["validators"]
        ]
        app_state = app_state_from_json(document.get("app_state", {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise HomeError(f"genesis.json is malformed: {exc!r}") from exc
    if not isinstance(chain_id, str) or isinstance(time_ms, bool) or not isinstance(time_ms, int):
        raise HomeError("genesis.json: chain_id must be text and genesis_time_ms an integer")
    genesis = Genesis(chain_id, time_ms, tuple(validators), app_state)
    try:  # the canonical checks (unique validators, limits) live in the ledger
        return Genesis.decode(genesis.encode())
    except Exception as exc:  # CodecError, or a value the codec refuses
        raise HomeError(f"genesis.json is not a valid genesis: {exc}") from exc


def genesis_to_json(genesis: Genesis) -> dict[str, Any]:
    return {
        "chain_id": genesis.chain_id,
        "genesis_time_ms": genesis.genesis_time_ms,
        "validators": [
            {"name": name, "key": address_to_text(key)} for key, name in genesis.validators
        ],
        "app_state": app_state_to_json(genesis.app_state),
    }


def write_genesis(path: Path, genesis: Genesis) -> None:
    path.write_text(json.dumps(genesis_to_json(genesis), indent=2) + "\n")


def read_genesis(path: Path) -> Genesis:
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HomeError(f"cannot read {path.name}: {exc}") from exc
    if not isinstance(document, dict):
        raise HomeError("genesis.json must hold an object")
    return genesis_from_json(document)


# --- config.toml ------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    raise TypeError(f"cannot write {value!r} to TOML")


def config_to_toml(config: NodeConfig) -> str:
    lines = [
        "# pasar validator configuration",
        f"chain_id = {_toml_value(config.chain_id)}",
        f"name = {_toml_value(config.name)}",
        f"max_clock_drift_ms = {config.max_clock_drift_ms}",
        f"view_timeout_ms = {config.view_timeout_ms}",
        f"censorship_timeout_ms = {config.censorship_timeout_ms}",
        f"state_versions_kept = {config.state_versions_kept}",
        f"state_tree_cache_mb = {config.state_tree_cache_mb}",
        "",
        "[rpc]",
        f"host = {_toml_value(config.rpc_host)}",
        f"port = {config.rpc_port}",
        f"front = {'true' if config.rpc_front else 'false'}",
        "",
        "[p2p]",
        f"host = {_toml_value(config.p2p_host)}",
        f"port = {config.p2p_port}",
        "",
        "[block]",
        f"max_txs = {config.block.max_txs}",
        f"max_bytes = {config.block.max_bytes}",
        f"interval_ms = {config.block.interval_ms}",
        f"validate_us_per_tx = {config.block.validate_us_per_tx}",
        "",
        "[mempool]",
        f"max_txs = {config.mempool.max_txs}",
        f"max_bytes = {config.mempool.max_bytes}",
        f"max_per_sender = {config.mempool.max_per_sender}",
        f"floor_txs = {config.mempool.floor_txs}",
        f"backlog_ms = {config.mempool.backlog_ms}",
        f"sender_share_percent = {config.mempool.sender_share_percent}",
        f"gap_share_percent = {config.mempool.gap_share_percent}",
        "",
        "[limits]",
        *(f"{name} = {getattr(config.limits, name)}" for name in ServiceLimits.__slots__),
        "",
        "[gc]",
        f"gen0_threshold = {config.gc.gen0_threshold}",
        f"freeze = {_toml_value(config.gc.freeze)}",
    ]
    for peer in config.peers:
        lines += [
            "",
            "[[peers]]",
            f"name = {_toml_value(peer.name)}",
            f"key = {_toml_value(address_to_text(peer.key))}",
            f"url = {_toml_value(peer.url)}",
        ]
    return "\n".join(lines) + "\n"


def _section(document: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = document.get(name, {})
    if not isinstance(value, Mapping):
        raise HomeError(f"config.toml: [{name}] must be a table")
    return value


# Keys an older release wrote and what replaced them, so the refusal says what to do.
RENAMED_KEYS = {"mempool.backlog_seconds": "mempool.backlog_ms (milliseconds)"}


def _only_known(table: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    """Refuse a key the node would otherwise ignore: a typo or a renamed setting must
    not silently leave the default in force."""
    for key in table:
        if key in known:
            continue
        name = f"{where}.{key}" if where else key
        replaced = RENAMED_KEYS.get(name)
        hint = f"it was replaced by {replaced}" if replaced else f"known: {', '.join(known)}"
        raise HomeError(f"config.toml: unknown setting {name} ({hint})")


def _int(table: Mapping[str, Any], key: str, default: int, where: str) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise HomeError(f"config.toml: {where}.{key} must be a non-negative integer")
    return value


def _bool(table: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise HomeError(f"config.toml: {where}.{key} must be true or false, not {value!r}")
    return value


def _positive_int(table: Mapping[str, Any], key: str, default: int, where: str) -> int:
    """An integer setting where 0 means nothing sensible (a tree that keeps no version
    could not prove even the latest state): refused rather than quietly raised to 1."""
    value = _int(table, key, default, where)
    if value == 0:
        raise HomeError(f"config.toml: {where}.{key} must be at least 1")
    return value


def _gc_settings(table: Mapping[str, Any]) -> GcSettings:
    defaults = GcSettings()
    threshold = table.get("gen0_threshold", defaults.gen0_threshold)
    low, high = GC_GEN0_THRESHOLD_RANGE
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int)
        or (threshold != 0 and not low <= threshold <= high)
    ):
        raise HomeError(
            f"config.toml: gc.gen0_threshold must be 0 (keep the interpreter's thresholds) "
            f"or an integer from {low} to {high}, not {threshold!r}"
        )
    return GcSettings(
        gen0_threshold=threshold, freeze=_bool(table, "freeze", defaults.freeze, "gc")
    )


def _str(table: Mapping[str, Any], key: str, default: str | None, where: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise HomeError(f"config.toml: {where}.{key} must be text")
    return value


TOP_LEVEL_KEYS = (
    "chain_id",
    "name",
    "max_clock_drift_ms",
    "view_timeout_ms",
    "censorship_timeout_ms",
    "state_versions_kept",
    "state_tree_cache_mb",
    "rpc",
    "p2p",
    "block",
    "mempool",
    "limits",
    "gc",
    "peers",
)


def config_from_toml(text: str) -> NodeConfig:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HomeError(f"config.toml is not valid TOML: {exc}") from exc
    rpc, p2p = _section(document, "rpc"), _section(document, "p2p")
    block, mempool = _section(document, "block"), _section(document, "mempool")
    limits, gc_table = _section(document, "limits"), _section(document, "gc")
    _only_known(document, TOP_LEVEL_KEYS, "")
    _only_known(rpc, ("host", "port", "front"), "rpc")
    _only_known(p2p, ("host", "port"), "p2p")
    _only_known(block, BlockLimits.__slots__, "block")
    _only_known(mempool, MempoolLimits.__slots__, "mempool")
    _only_known(limits, ServiceLimits.__slots__, "limits")
    _only_known(gc_table, GcSettings.__slots__, "gc")
    peers = []
    for index, item in enumerate(document.get("peers", [])):
        where = f"peers[{index}]"
        if not isinstance(item, Mapping):
            raise HomeError(f"config.toml: {where} must be a table")
        _only_known(item, ("name", "key", "url"), where)
        try:
            key = address_from_text(_str(item, "key", None, where))
        except ValueError as exc:
            raise HomeError(f"config.toml: {where}.key: {exc}") from exc
        peers.append(PeerConfig(_str(item, "name", "", where), key, _str(item, "url", None, where)))
    defaults = NodeConfig(chain_id="", name="")
    return NodeConfig(
        chain_id=_str(document, "chain_id", None, "config"),
        name=_str(document, "name", None, "config"),
        rpc_host=_str(rpc, "host", defaults.rpc_host, "rpc"),
        rpc_port=_int(rpc, "port", defaults.rpc_port, "rpc"),
        rpc_front=_bool(rpc, "front", defaults.rpc_front, "rpc"),
        p2p_host=_str(p2p, "host", defaults.p2p_host, "p2p"),
        p2p_port=_int(p2p, "port", defaults.p2p_port, "p2p"),
        peers=tuple(peers),
        block=BlockLimits(
            **{
                name: _int(block, name, getattr(defaults.block, name), "block")
                for name in BlockLimits.__slots__
            }
        ),
        mempool=MempoolLimits(
            **{
                name: _int(mempool, name, getattr(defaults.mempool, name), "mempool")
                for name in MempoolLimits.__slots__
            }
        ),
        limits=ServiceLimits(
            **{
                name: _int(limits, name, getattr(defaults.limits, name), "limits")
                for name in ServiceLimits.__slots__
            }
        ),
        gc=_gc_settings(gc_table),
        max_clock_drift_ms=_int(document, "max_clock_drift_ms", 5_000, "config"),
        view_timeout_ms=_int(document, "view_timeout_ms", 2_000, "config"),
        censorship_timeout_ms=_positive_int(document, "censorship_timeout_ms", 10_000, "config"),
        state_versions_kept=_positive_int(
            document, "state_versions_kept", KEEP_TREE_VERSIONS, "config"
        ),
        state_tree_cache_mb=_int(
            document, "state_tree_cache_mb", DEFAULT_HASH_MEMO_BYTES >> 20, "config"
        ),
    )


# --- key file -----------------------------------------------------------------------------


def write_validator_key(
    path: Path, key: PrivateKey, passphrase: str | None, insecure: bool = False
) -> None:
    """Write the key file: encrypted under `passphrase` at the validator cost, or plaintext
    when `insecure`."""
    keyfile.write_key_file(
        path,
        key,
        passphrase,
        insecure_plaintext=insecure,
        opslimit=keyfile.VALIDATOR_OPSLIMIT,
        memlimit=keyfile.VALIDATOR_MEMLIMIT,
    )


def read_validator_key(path: Path, passphrase: str | None) -> PrivateKey:
    return keyfile.read_key_file(path, passphrase)


# --- creating homes -------------------------------------------------------------------------


def load_home(path: str | Path) -> Home:
    """Read config.toml and genesis.json and check they describe the same chain."""
    home = Path(path)
    if not (home / CONFIG_FILE).is_file():
        raise HomeError(f"{home} is not a pasar home: {CONFIG_FILE} is missing")
    config = config_from_toml((home / CONFIG_FILE).read_text())
    genesis = read_genesis(home / GENESIS_FILE)
    if genesis.chain_id != config.chain_id:
        raise HomeError(
            f"config chain_id {config.chain_id!r} differs from genesis {genesis.chain_id!r}"
        )
    return Home(home, config, genesis)


def write_home(
    path: Path,
    config: NodeConfig,
    genesis: Genesis,
    key: PrivateKey,
    passphrase: str | None = None,
    insecure: bool = False,
) -> Home:
    """Create one home directory (refuses to overwrite an existing one)."""
    if (path / CONFIG_FILE).exists() or (path / KEY_FILE).exists():
        raise HomeError(f"{path} already holds a pasar home")
    path.mkdir(parents=True, exist_ok=True)
    write_validator_key(path / KEY_FILE, key, passphrase, insecure)
    (path / CONFIG_FILE).write_text(config_to_toml(config))
    write_genesis(path / GENESIS_FILE, genesis)
    return Home(path, config, genesis)


@dataclass(frozen=True)
class TestnetNode:
    """One generated validator: where its home is and how to reach it."""

    name: str
    home: Path
    key: bytes
    rpc_url: str
    p2p_url: str


def testnet_ports(index: int, base_port: int) -> tuple[int, int]:
    """(rpc_port, p2p_port) of validator `index`: two consecutive ports each."""
    return base_port + 2 * index, base_port + 2 * index + 1


def create_testnet(
    out: str | Path,
    names: Sequence[str],
    *,
    hosts: Sequence[str] = ("127.0.0.1",),
    base_port: int = DEFAULT_BASE_PORT,
    chain_id: str = DEFAULT_CHAIN_ID,
    genesis_time_ms: int = 0,
    app_state: Mapping[str, Any] | None = None,
    keys: Sequence[PrivateKey] | None = None,
    passphrase: str | None = None,
    insecure: bool = False,
    block: BlockLimits | None = None,
    mempool: MempoolLimits | None = None,
    bind_host: str | None = None,
    view_timeout_ms: int = 2_000,
) -> list[TestnetNode]:
    """Write one home per name under `out/<name>` sharing one genesis.

    `hosts` gives each validator's address (one host for all, or one per name);
    `app_state` is the JSON form of genesis sections (see the module docstring);
    `keys` lets a caller choose the validator keys (e.g. to fund them in app_state).
    Each home listens on `bind_host` (default: its own host).
    """
    if not names:
        raise HomeError("a testnet needs at least one validator")
    if len(set(names)) != len(names):
        raise HomeError("validator names must be unique")
    if len(hosts) not in (1, len(names)):
        raise HomeError("give one host for all validators or one host per validator")
    if keys is not None and len(keys) != len(names):
        raise HomeError("give one key per validator")
    if passphrase is None and not insecure:
        raise HomeError("a passphrase is required unless insecure (plaintext) keys are asked for")
    chosen = list(keys) if keys is not None else [PrivateKey.generate() for _ in names]
    host_of = [hosts[0] if len(hosts) == 1 else hosts[i] for i in range(len(names))]
    genesis = genesis_from_json(
        {
            "chain_id": chain_id,
            "genesis_time_ms": genesis_time_ms,
            "validators": [
                {"name": name, "key": address_to_text(key.public_key)}
                for name, key in zip(names, chosen, strict=True)
            ],
            "app_state": dict(app_state or {}),
        }
    )
    nodes: list[TestnetNode] = []
    for index, name in enumerate(names):
        rpc_port, p2p_port = testnet_ports(index, base_port)
        nodes.append(
            TestnetNode(
                name=name,
                home=Path(out) / name,
                key=chosen[index].public_key,
                rpc_url=f"http://{host_of[index]}:{rpc_port}",
                p2p_url=f"http://{host_of[index]}:{p2p_port}",
            )
        )
    base = NodeConfig(
        chain_id=chain_id,
        name="",
        block=block or BlockLimits(),
        mempool=mempool or MempoolLimits(),
        view_timeout_ms=view_timeout_ms,
    )
    for index, node in enumerate(nodes):
        rpc_port, p2p_port = testnet_ports(index, base_port)
        listen = bind_host or host_of[index]
        config = replace(
            base,
            name=node.name,
            rpc_host=listen,
            rpc_port=rpc_port,
            p2p_host=listen,
            p2p_port=p2p_port,
            peers=tuple(
                PeerConfig(other.name, other.key, other.p2p_url) for other in nodes if other != node
            ),
        )
        write_home(node.home, config, genesis, chosen[index], passphrase, insecure)
    return nodes
