"""The browser pages every node serves: wallet, explorer and the JavaScript they share.

    GET /                  a small index linking the pages
    GET /wallet            the wallet (keys made, encrypted and used in the page only)
    GET /explorer          blocks, transactions and accounts, verified in the browser
    GET /pay/{invoice}     the checkout page a shop sends a buyer to
    GET /operator          validators, consensus health and governance for node operators
    GET /shop              the shop for buyers: listings, orders, disputes, loyalty
    GET /seller            the seller desk: listings, orders, shipping, invoices, sales
    GET /arbiter           the arbiter desk: disputes, evidence, sealed notes, rulings
    GET /lib/{name}        web/lib ES modules (the one JavaScript library)
    GET /pages/{name}      each page's own module
    GET /style.css         the one style sheet

The files are package data of the `web` directory (`pip install .` brings them);
they are read once, when the routes are registered, so a request never touches the
disk and only files that exist at start can be named. Every answer carries a
Content-Security-Policy that allows scripts, styles and connections to this origin
only (no inline script or style, no framing), so a page cannot be made to run or
send anything the node did not serve.
"""

from __future__ import annotations

import re
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from aiohttp import web

from node.rpc.app import RouteGroup
from node.rpc.errors import not_found
from node.rpc.openapi import path_param

PAGES = {
    "/": "index.html",
    "/wallet": "wallet.html",
    "/explorer": "explorer.html",
    "/operator": "operator.html",
    "/shop": "shop.html",
    "/seller": "seller.html",
    "/arbiter": "arbiter.html",
}
MODULE_DIRS = ("lib", "pages")
MODULE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}\.js$")
MODULE_NAME_PATTERN = "^[a-z][a-z0-9_-]{0,63}\\.js$"
INVOICE_ID = re.compile(r"^[0-9a-fA-F]{64}$")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    # Pages are small and change with the node's version: always revalidate.
    "Cache-Control": "no-cache",
}
HTML = "text/html"
JAVASCRIPT = "text/javascript"
CSS = "text/css"


def web_root() -> Traversable:
    """The installed `web` package directory (package data, not code the node runs)."""
    return resources.files("web")


def _answer(body: bytes, content_type: str) -> web.Response:
    return web.Response(
        body=body, content_type=content_type, charset="utf-8", headers=SECURITY_HEADERS
    )


def _load_modules(root: Traversable, folder: str) -> dict[str, bytes]:
    directory = root / folder
    return {
        entry.name: entry.read_bytes()
        for entry in directory.iterdir()
        if entry.is_file() and MODULE_NAME.fullmatch(entry.name)
    }


def register(app: web.Application) -> None:
    root = web_root()

    def page(body: bytes) -> Any:
        async def handler(request: web.Request) -> web.Response:
            return _answer(body, HTML)

        return handler

    for path, filename in PAGES.items():
        app.router.add_get(path, page((root / filename).read_bytes()))

    checkout = (root / "pay.html").read_bytes()

    async def pay(request: web.Request) -> web.Response:
        if not INVOICE_ID.fullmatch(request.match_info["invoice"]):
            raise not_found("invoice_not_found", "an invoice id is 64 hex digits")
        return _answer(checkout, HTML)

    app.router.add_get("/pay/{invoice}", pay)

    style = (root / "style.css").read_bytes()

    async def stylesheet(request: web.Request) -> web.Response:
        return _answer(style, CSS)

    app.router.add_get("/style.css", stylesheet)

    for folder in MODULE_DIRS:
        modules = _load_modules(root, folder)

        def serve(modules: dict[str, bytes], folder: str) -> Any:
            async def handler(request: web.Request) -> web.Response:
                name = request.match_info["name"]
                body = modules.get(name)
                if body is None:
                    raise not_found("file_not_found", f"no file {folder}/{name}")
                return _answer(body, JAVASCRIPT)

            return handler

        app.router.add_get(f"/{folder}/{{name}}", serve(modules, folder))


def _text_operation(summary: str, media: str, params: list[dict[str, Any]] | None = None) -> Any:
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {"description": summary, "content": {media: {"schema": {"type": "string"}}}}
        },
    }
    if params:
        operation["parameters"] = params
        operation["responses"]["404"] = {
            "description": "No such file or invoice id",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return {"get": operation}


_NAME = path_param("name", {"type": "string", "pattern": MODULE_NAME_PATTERN}, "file name")
PATHS: dict[str, dict[str, Any]] = {
    "/": _text_operation("Index of the browser pages", HTML),
    "/wallet": _text_operation("The wallet page", HTML),
    "/explorer": _text_operation("The explorer page", HTML),
    "/operator": _text_operation("The operator page", HTML),
    "/shop": _text_operation("The shop page for buyers", HTML),
    "/seller": _text_operation("The seller desk page", HTML),
    "/arbiter": _text_operation("The arbiter desk page", HTML),
    "/pay/{invoice}": _text_operation(
        "The checkout page of an invoice",
        HTML,
        [path_param("invoice", {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}, "invoice id")],
    ),
    "/style.css": _text_operation("The pages' style sheet", CSS),
    "/lib/{name}": _text_operation("A module of the pages' library", JAVASCRIPT, [_NAME]),
    "/pages/{name}": _text_operation("A page's own JavaScript module", JAVASCRIPT, [_NAME]),
}

GROUP = RouteGroup("web", register, PATHS)
