// Inclusion of a transaction and its receipt in a block (docs/protocol.md §5),
// mirroring ledger/inclusion.py: the tx hash under the header's tx_root, enc(receipt)
// under its receipts_root at the same index, each checked against the header's counts.

export async function verifyTxInclusion(header, txHash, proof) {
  return proof.verify(header.txRoot, txHash, header.txCount);
}

export async function verifyReceiptInclusion(header, receipt, proof) {
  return proof.verify(header.receiptsRoot, receipt.encode(), header.receiptsCount);
}
