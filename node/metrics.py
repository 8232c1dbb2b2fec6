"""Prometheus metrics of one validator (a registry per node, so tests can run several).

Served at /metrics on the RPC port. Names start with `pasar_`.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from node.batch_histogram import BatchHistogram
from node.gc_tuning import GcCollector
from node.memory_metrics import MemoryCollector

__all__ = ["CONTENT_TYPE_LATEST", "NodeMetrics"]


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.height = Gauge("pasar_height", "Committed block height", registry=r)
        self.view = Gauge("pasar_view", "Current consensus view", registry=r)
        self.view_changes = Counter("pasar_view_changes", "View changes entered", registry=r)
        self.view_change_causes = Counter(
            "pasar_view_change_causes",
            "View changes entered, by what started them",
            ["cause"],
            registry=r,
        )
        self.mempool_size = Gauge("pasar_mempool_size", "Transactions in the mempool", registry=r)
        self.mempool_bytes = Gauge(
            "pasar_mempool_bytes",
            "What the mempool's transactions count against [mempool] max_bytes: "
            "their bytes, and 64 for each value of their args",
            registry=r,
        )
        # admission state, set when /metrics is read (docs/node.md, "Admission")
        self.admit_limit = Gauge(
            "pasar_mempool_admit_limit", "Transactions the mempool admits now", registry=r
        )
        self.local_limit = Gauge(
            "pasar_mempool_local_limit",
            "Pending transactions from this node's own clients it holds at most",
            registry=r,
        )
        self.local_pending = Gauge(
            "pasar_mempool_local", "Pending transactions from this node's own clients", registry=r
        )
        self.gap_limit = Gauge(
            "pasar_mempool_gap_limit",
            "Transactions behind a nonce gap the mempool takes from clients",
            registry=r,
        )
        self.committed_rate = Gauge(
            "pasar_mempool_committed_rate",
            "Transactions committed per second of busy time over the last 10 s",
            registry=r,
        )
        self.full_percent = Gauge(
            "pasar_mempool_full_percent",
            "Share of the last 5 s, in percent, in which the pool had no room for clients",
            registry=r,
        )
        self.overloaded = Gauge(
            "pasar_mempool_overloaded",
            "1 under sustained overload (a 429's retry time is then at least a second)",
            registry=r,
        )
        self.oldest_pending = Gauge(
            "pasar_mempool_oldest_seconds",
            "Age of the oldest pending transaction (0 when the pool is empty)",
            registry=r,
        )
        self.behind_gap = Gauge(
            "pasar_mempool_behind_gap",
            "Pending transactions no block can take yet: an earlier nonce of the sender is missing",
            registry=r,
        )
        self.txs_relayed = Counter(
            "pasar_gossip_relayed",
            "Transactions peers gossiped that this node relayed to every peer: no block "
            "had committed for half a view timeout",
            registry=r,
        )
        self.peers_muted = Counter(
            "pasar_peers_muted",
            "Peers whose gossip was dropped for a while: it held a transaction that was not one",
            registry=r,
        )
        self.consensus_peers_muted = Counter(
            "pasar_consensus_peers_muted",
            "Peers whose consensus messages were dropped for a while: they carried false "
            "signatures",
            registry=r,
        )
        self.txs_evicted = Counter(
            "pasar_mempool_evicted",
            "Pending transactions evicted after waiting behind a nonce gap too long",
            registry=r,
        )
        self.loop_lag = Histogram(
            "pasar_event_loop_lag_seconds",
            "How late the event loop ran a timer that was due (sampled every 50 ms)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=r,
        )
        self.loop_lag_max = Gauge(
            "pasar_event_loop_lag_max_seconds",
            "The event loop's longest lag since /metrics was last read",
            registry=r,
        )
        self.gossip_intake = Gauge(
            "pasar_gossip_intake", "Gossiped transactions waiting to be admitted", registry=r
        )
        self.gossip_dropped = Counter(
            "pasar_gossip_dropped",
            "Gossiped transactions dropped because the intake was full",
            registry=r,
        )
        self.txs_committed = Counter(
            "pasar_txs_committed", "Transactions committed in blocks", registry=r
        )
        self.txs_admitted = Counter(
            "pasar_txs_admitted", "Transactions admitted to the mempool", registry=r
        )
        self.txs_refused = Counter(
            "pasar_txs_refused", "Transactions refused at admission", ["code"], registry=r
        )
        self.blocks_committed = Counter("pasar_blocks_committed", "Blocks committed", registry=r)
        # fed once per block with every wait of it (node/batch_histogram.py)
        self.commit_latency = BatchHistogram(
            "pasar_commit_latency_seconds",
            "Time from first seeing a transaction to committing it, per transaction",
            buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
        )
        r.register(self.commit_latency)
        self.block_interval = Histogram(
            "pasar_block_interval_seconds",
            "Time between consecutive commits",
            buckets=(0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0),
            registry=r,
        )
        self.peers_connected = Gauge("pasar_peers_connected", "Authenticated peers", registry=r)
        self.peers_refused = Counter(
            "pasar_peers_refused", "Peer connections refused at the handshake", registry=r
        )
        self.frames_dropped = Counter(
            "pasar_peer_frames_dropped",
            "Frames to peers dropped because the link's send queue was full (gossip, "
            "votes): a peer that reads too slowly",
            registry=r,
        )
        self.front_refusals = Counter(
            "pasar_rpc_front_refusals",
            "Submissions the RPC front answered 429 mempool_full itself (node/rpc_front.py)",
            registry=r,
        )
        self.catching_up = Gauge("pasar_catching_up", "1 while block sync runs", registry=r)
        self.blocks_synced = Counter(
            "pasar_blocks_synced", "Blocks applied through block sync", registry=r
        )
        self.rpc_slots = Gauge(
            "pasar_rpc_slots_in_use",
            "Event streams and long-polls being served ([limits])",
            ["kind"],
            registry=r,
        )
        self.signatures_verified = Counter(
            "pasar_signatures_verified", "Transaction signatures verified", registry=r
        )
        self.proposals_sent = Counter(
            "pasar_proposals_sent",
            "PRE-PREPARE messages queued to peers (one per peer)",
            registry=r,
        )
        self.proposal_bytes_sent = Counter(
            "pasar_proposal_bytes_sent",
            "Bytes of PRE-PREPARE messages queued to peers",
            registry=r,
        )
        self.proposal_txs_fetched = Counter(
            "pasar_proposal_txs_fetched",
            "Transactions of proposals this node lacked and fetched from peers",
            registry=r,
        )
        self.proposal_fetches = Counter(
            "pasar_proposal_fetches",
            "Proposals completed by fetching transactions, by outcome",
            ["outcome"],
            registry=r,
        )
        self.proposal_requests = Counter(
            "pasar_proposal_requests",
            "Peers' requests for proposal transactions, by outcome",
            ["outcome"],
            registry=r,
        )
        r.register(GcCollector())  # the process's garbage collections (node/gc_tuning.py)
        r.register(MemoryCollector())  # resident memory by kind (node/memory_metrics.py)

    def render(self) -> bytes:
        return generate_latest(self.registry)
