"""bench/bench_rpc.py: its stub node answers the real RPC app's submissions, so the
HTTP benchmarks measure admission rather than fail on the first request."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from bench import bench_rpc
from node.rpc.app import build_rpc_app


async def test_the_stub_node_admits_what_the_rpc_decoded_and_refuses_a_forgery() -> None:
    service = bench_rpc.StubService()
    txs = bench_rpc.signed_transfers(3)
    forged = txs[2][:-2] + ("00" if txs[2][-2:] != "00" else "01")  # last signature byte
    client = TestClient(TestServer(build_rpc_app(service)))
    await client.start_server()
    try:
        single = await client.post("/v1/txs", json={"tx": txs[0]})
        assert single.status == 202, await single.text()
        batch = await client.post("/v1/txs/batch", json={"txs": [txs[1], forged]})
        assert batch.status == 200, await batch.text()
        results = (await batch.json())["results"]
    finally:
        await client.close()
    assert [result["accepted"] for result in results] == [True, False]
    assert results[1]["code"] == "bad_signature"
    assert service.admitted == 2
