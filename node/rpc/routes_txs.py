"""Submitting transactions, encoding them for offline signing, and their outcome.

Submission decodes the bytes here (a malformed transaction is a 400 before the
node core sees it), then hands the exact bytes to `NodeService.submit`, which
verifies the signature, pre-checks nonce and funds and admits to the mempool.
The answer comes at once; `GET /v1/txs/{hash}?wait=S` long-polls for the outcome.

When the mempool is full a submission is refused before its body is read (429
`mempool_full`): by `refuse_before_body`, which the node's body deadline runs
before it reads a body (node/http.py), and, for `Expect: 100-continue`, instead
of the `100 Continue` that would ask the client for its body. A sender over its
share is refused after decoding, before its signature is checked (429
`sender_backlog_full`), and so is a transaction behind a nonce gap once the pool
holds its share of those (429 `nonce_gap_full`). All carry a `Retry-After` (whole seconds) and a
`Retry-After-Ms` from the node's backlog and measured commit rate
(node.mempool); a batch answer whose items were refused for room carries the
same time as `retry_after_ms`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import HttpVersion11, hdrs, web

from ledger.chainstore import find_tx, read_block, read_certificate, read_receipts
from ledger.errors import CodecError
from ledger.execution import account_nonce
from ledger.hashing import TX
from ledger.keys import SIGNATURE_SIZE, signing_message
from ledger.merkle import merkle_proof
from ledger.tx import MAX_ARG_VALUES, MAX_TX_BYTES, SignedTransaction, Transaction, arg_values
from node.front_state import (
    MEMPOOL_FULL,
    MEMPOOL_FULL_MESSAGE,
    RETRY_AFTER_MS_HEADER,
    retry_after_seconds,
)
from node.loop_slices import LoopSlices
from node.mempool import held_bytes
from node.rpc import routes_proofs
from node.rpc.app import RouteGroup, close_after, log_refusal, service_of
from node.rpc.errors import ApiError, bad_request, error_response
from node.rpc.jsonbody import json_response
from node.rpc.limits import (
    DECODED_BUDGET,
    MAX_WAIT_SECONDS,
    WAIT_SCHEMA,
    client_of,
    gates_of,
    install,
)
from node.rpc.models import MAX_BATCH, EncodeTx, SubmitBatch, SubmitTx
from node.rpc.openapi import HASH, get_operation, path_param, post_operation, query_param
from node.rpc.params import (
    parse_address,
    parse_hash,
    parse_hex,
    parse_model,
    parse_seconds,
    read_json,
    too_large,
)
from node.rpc.render import certificate_json, receipt_json, tx_json
from node.rpc.values import JsonValueError, args_from_json
from node.service import Admission, NodeService

MSGPACK = "application/msgpack"
SINGLE_JSON_LIMIT = 2 * MAX_TX_BYTES + 4096  # hex doubles the size; room for field names
BATCH_JSON_LIMIT = MAX_BATCH * (2 * MAX_TX_BYTES // 8) + 4096
# Admission refusals that mean "not now" rather than "never": answered 429 + Retry-After.
BACKPRESSURE_CODES = frozenset({"mempool_full", "sender_backlog_full", "nonce_gap_full"})


def busy_error(service: NodeService, code: str, message: str) -> ApiError:
    """429 with the time the node's backlog needs to commit as Retry-After, in whole
    seconds, and in ms as Retry-After-Ms."""
    retry_ms = service.retry_after_ms()
    headers = {
        "Retry-After": str(retry_after_seconds(retry_ms)),
        RETRY_AFTER_MS_HEADER: str(retry_ms),
    }
    return ApiError(429, code, message, headers=headers)


def refuse_when_full(service: NodeService) -> None:
    """Refuse before reading or decoding the body: a full node spends nothing more."""
    if service.mempool_full():
        service.note_refused_request()  # counts toward sustained overload (node.mempool)
        raise busy_error(service, MEMPOOL_FULL, MEMPOOL_FULL_MESSAGE)


def refuse_before_body(request: web.Request) -> None:
    """A submission's door: raise the 429 `mempool_full` while the pool is full, before
    anything reads the request's body (node/http.py runs this first)."""
    if request.method == "POST" and request.match_info.handler in (submit_tx, submit_batch):
        refuse_when_full(service_of(request))


async def expect_room(request: web.Request) -> web.StreamResponse | None:
    """`Expect: 100-continue` on a submission: 429 while the pool is full, not the
    `100 Continue` that asks the client to send a body the node would refuse.

    aiohttp runs this before the middlewares, so the refusal is logged here, and the
    connection closes with it: the client may send its body regardless, and nobody
    would read it."""
    try:
        refuse_when_full(service_of(request))
    except ApiError as exc:
        log_refusal(request, exc.status, exc.code, exc.field)
        response = error_response(exc)
        await close_after(request, response)
        return response
    return await answer_expect(request)


async def answer_expect(request: web.Request) -> web.StreamResponse | None:
    """What HTTP/1.1 says to `Expect` when the body is wanted: `100 Continue` for
    `100-continue`, 417 for any other expectation (none is defined), and nothing to
    an HTTP/1.0 client, which does not wait for one."""
    if request.version != HttpVersion11:
        return None
    expect = request.headers.get(hdrs.EXPECT, "")
    if expect.lower() != "100-continue":
        exc = ApiError(417, "expectation_failed", f"unknown Expect: {expect[:64]!r}")
        log_refusal(request, exc.status, exc.code, exc.field)
        response = error_response(exc)
        await close_after(request, response)
        return response
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0  # what follows is the answer's own head and body
    return None


def decode_signed(raw: bytes, field: str = "tx") -> SignedTransaction:
    if len(raw) > MAX_TX_BYTES:
        raise ApiError(413, "tx_too_large", f"a transaction is at most {MAX_TX_BYTES} bytes")
    try:
        return SignedTransaction.decode(raw)
    except CodecError as exc:
        raise bad_request("malformed_tx", f"{field}: {exc.message}", field) from exc


def raw_from_submit(body: SubmitTx) -> bytes:
    """The signed transaction's canonical bytes from either accepted JSON form."""
    if body.tx is not None:
        if body.unsigned_tx is not None or body.signature is not None:
            raise bad_request("invalid_request", "give either tx or unsigned_tx + signature")
        return parse_hex(body.tx, "tx")
    if body.unsigned_tx is None or body.signature is None:
        raise bad_request("invalid_request", "give tx, or unsigned_tx together with signature")
    unsigned = parse_hex(body.unsigned_tx, "unsigned_tx")
    signature = parse_hex(body.signature, "signature", SIGNATURE_SIZE)
    try:
        tx = Transaction.decode(unsigned)
    except CodecError as exc:
        raise bad_request("malformed_tx", f"unsigned_tx: {exc.message}", "unsigned_tx") from exc
    return SignedTransaction.single(tx, signature).encode()


def admission_json(admission: Admission, tx_hash: bytes | None) -> dict[str, Any]:
    known = admission.tx_hash if admission.tx_hash is not None else tx_hash
    return {
        "hash": None if known is None else known.hex(),
        "accepted": admission.accepted,
        "code": admission.code,
        "message": admission.message,
    }


async def submit_tx(request: web.Request) -> web.Response:
    service = service_of(request)
    if request.content_type == MSGPACK:
        if request.content_length is not None and request.content_length > MAX_TX_BYTES:
            raise too_large(MAX_TX_BYTES)
        refuse_when_full(service)
        raw = await request.read()
        stx = decode_signed(raw)
    else:
        refuse_when_full(service)
        raw = raw_from_submit(parse_model(SubmitTx, await read_json(request, SINGLE_JSON_LIMIT)))
        stx = decode_signed(raw)
    (admission,) = await service.submit([stx])
    if admission.accepted:
        return json_response(admission_json(admission, stx.hash), status=202)
    if admission.code in BACKPRESSURE_CODES:
        raise busy_error(
            service, admission.code, admission.message or "the node is busy; retry later"
        )
    raise ApiError(422, admission.code, admission.message or admission.code, "tx")


async def submit_batch(request: web.Request) -> web.Response:
    """Many transactions at once; each gets its own admission result, in order."""
    service = service_of(request)
    refuse_when_full(service)
    body = parse_model(SubmitBatch, await read_json(request, BATCH_JSON_LIMIT))
    if not body.txs:
        raise bad_request("invalid_request", "txs must hold at least one transaction", "txs")
    gates = gates_of(request)
    held = 0  # what this batch's decoded transactions count in `gates.decoded`
    try:
        decoded: list[SignedTransaction] = []
        slices = LoopSlices()  # a thousand transactions may take a while: others run
        for index, item in enumerate(body.txs):
            field = f"txs.{index}"
            raw = parse_hex(item, field)
            stx = decode_signed(raw, field)
            weight = held_bytes(stx)
            if gates.decoded + weight > DECODED_BUDGET:
                raise busy_error(
                    service,
                    "decoding_full",
                    "the node holds as many decoded transactions of other batches as it "
                    "takes at once; retry later",
                )
            gates.decoded += weight
            held += weight
            decoded.append(stx)
            await slices.spent(len(raw))
        admissions = await service.submit(decoded)  # decoded once, here
        hashes = [stx.hash for stx in decoded]
    finally:
        gates.decoded -= held  # the admitted are the pool's to count now
    results = [
        admission_json(admission, tx_hash)
        for admission, tx_hash in zip(admissions, hashes, strict=True)
    ]
    answer: dict[str, Any] = {"results": results}
    if any(admission.code in BACKPRESSURE_CODES for admission in admissions):
        # the items refused for room are to be sent again: when, as a 429 would say
        answer["retry_after_ms"] = service.retry_after_ms()
    return json_response(answer)


async def encode_tx(request: web.Request) -> web.Response:
    """Canonical unsigned bytes, hash and signing message for a JSON tx description."""
    service = service_of(request)
    body = parse_model(EncodeTx, await read_json(request, SINGLE_JSON_LIMIT))
    sender = parse_address(body.sender, "sender")
    if body.method not in service.app.handlers:
        raise ApiError(422, "unknown_method", f"no contract method {body.method!r}", "method")
    if arg_values(body.args) > MAX_ARG_VALUES:
        # counted on the parsed JSON before any value is converted: a body of nested
        # empty arrays would otherwise cost a conversion and an encoding per array
        raise bad_request(
            "too_many_values", f"args hold at most {MAX_ARG_VALUES} values in all", "args"
        )
    try:
        args = args_from_json(body.method, body.args)
    except JsonValueError as exc:
        raise bad_request("bad_value", f"{exc.path}: {exc.message}", exc.path) from exc
    chain_id = service.chain_id if body.chain_id is None else body.chain_id
    nonce = account_nonce(service.store, sender) if body.nonce is None else body.nonce
    tx = Transaction(chain_id, sender, nonce, body.method, args, body.expiry_ms)
    try:
        encoded = tx.encode()
        Transaction.decode(encoded)  # the same bounds a node applies on submission
    except CodecError as exc:
        raise bad_request("bad_value", f"args: {exc.message}", "args") from exc
    return json_response(
        {
            "unsigned_tx": encoded.hex(),
            "hash": tx.hash.hex(),
            "signing_message": signing_message(TX, chain_id, tx.hash).hex(),
            "chain_id": chain_id,
            "nonce": nonce,
        }
    )


def tx_outcome(service: NodeService, tx_hash: bytes) -> dict[str, Any]:
    """What this node knows about a transaction right now."""
    store = service.store
    location = find_tx(store, tx_hash)
    if location is None:
        status = "pending" if service.is_pending(tx_hash) else "unknown"
        return {"hash": tx_hash.hex(), "status": status}
    height, index = location
    block = read_block(store, height)
    receipts = read_receipts(store, height)
    if block is None or index >= len(block.transactions) or index >= len(receipts):
        raise RuntimeError(f"store is inconsistent at height {height}")
    receipt = receipts[index]
    leaves = [stx.hash for stx in block.transactions]
    return {
        "hash": tx_hash.hex(),
        "status": "committed" if receipt.ok else "rejected",
        "height": height,
        "index": index,
        "tx": tx_json(block.transactions[index]),
        "receipt": receipt_json(receipt),
        "proof": {
            "leaf": tx_hash.hex(),
            "index": index,
            "count": len(leaves),
            "siblings": [sibling.hex() for sibling in merkle_proof(leaves, index)],
            "tx_root": block.header.tx_root.hex(),
            "block_hash": block.hash.hex(),
        },
        "certificate": certificate_json(read_certificate(store, height)),
    }


async def get_tx(request: web.Request) -> web.Response:
    service = service_of(request)
    tx_hash = parse_hash(request.match_info["hash"])
    wait = parse_seconds(request.query.get("wait"), "wait", MAX_WAIT_SECONDS)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    outcome = tx_outcome(service, tx_hash)
    if wait <= 0 or outcome["status"] not in ("pending", "unknown"):
        return tx_answer(request, service, tx_hash, outcome)
    with gates_of(request).long_polls.slot(client_of(request)):
        # Unknown also waits: the transaction may have been sent to another validator.
        while outcome["status"] in ("pending", "unknown"):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await service.wait_for_height(service.head().height + 1, remaining)
            outcome = tx_outcome(service, tx_hash)
    return tx_answer(request, service, tx_hash, outcome)


def tx_answer(
    request: web.Request, service: NodeService, tx_hash: bytes, outcome: dict[str, Any]
) -> web.Response:
    if routes_proofs.wants_proof(request) and outcome["status"] in ("committed", "rejected"):
        trusted = routes_proofs.trust_of(request)
        return json_response(routes_proofs.tx_proof_json(service, tx_hash, trusted))
    return json_response(outcome)


def register(app: web.Application) -> None:
    install(app)
    app.router.add_post("/v1/txs", submit_tx, expect_handler=expect_room)
    app.router.add_post("/v1/txs/batch", submit_batch, expect_handler=expect_room)
    app.router.add_post("/v1/txs/encode", encode_tx)
    # "batch" and "encode" are never taken for a hash, so their OPTIONS and 405 answers
    # name only their own methods; any other text is a hash to check (400 bad_hex).
    app.router.add_get("/v1/txs/{hash:(?!(?:batch|encode)$)[^{}/]+}", get_tx)


_TX_LINK = {"operationId": "getTx", "parameters": {"hash": "$response.body#/hash"}}

GROUP = RouteGroup(
    "txs",
    register,
    {
        "/v1/txs": {
            "post": post_operation(
                "Submit one signed transaction (JSON hex or raw application/msgpack)",
                "SubmitTx",
                "Admission",
                status="202",
                msgpack=True,
                extra_errors=("413", "417", "422", "429"),
                links={"TxStatus": _TX_LINK},
            )
        },
        "/v1/txs/batch": {
            "post": post_operation(
                f"Submit up to {MAX_BATCH} signed transactions",
                "SubmitBatch",
                "BatchAdmission",
                extra_errors=("413", "417", "429"),
                links={
                    "FirstTxStatus": {
                        "operationId": "getTx",
                        "parameters": {"hash": "$response.body#/results/0/hash"},
                    }
                },
            )
        },
        "/v1/txs/encode": {
            "post": post_operation(
                "Encode a JSON transaction description for offline signing",
                "EncodeTx",
                "EncodedTx",
                extra_errors=("422",),
            )
        },
        "/v1/txs/{hash}": {
            "get": {
                **get_operation(
                    "A transaction's status, receipt, inclusion proof and certificate",
                    "TxOutcome",
                    [
                        path_param("hash", HASH, "transaction hash, 64 hex digits"),
                        query_param(
                            "wait",
                            WAIT_SCHEMA,
                            f"long-poll up to this many seconds (max {MAX_WAIT_SECONDS:g})",
                        ),
                        routes_proofs.PROVE_PARAM,
                        routes_proofs.TRUSTED_PARAM,
                        routes_proofs.SKIP_PARAM,
                    ],
                    extra_errors=("503",),
                ),
                "operationId": "getTx",
            }
        },
    },
)
