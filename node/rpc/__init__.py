"""The node's HTTP RPC: JSON over aiohttp, built by `node.rpc.app.build_rpc_app`.

This package's `__init__` imports nothing, so the CLI can use the JSON value
mapping in `node.rpc.values` without pulling in the web server.
"""
