"""The pages as the node serves them: content types, security headers, only real files."""

from __future__ import annotations

import re
from pathlib import Path

from rpc_fake_node import FakeNode
from rpc_helpers import served

from node.rpc.routes_web import PAGES

ROOT = Path(__file__).resolve().parents[2]


async def test_pages_are_html_with_a_strict_policy() -> None:
    async with served(FakeNode()) as client:
        for path, filename in PAGES.items():
            response = await client.get(path)
            assert response.status == 200, path
            assert response.content_type == "text/html"
            assert await response.read() == (ROOT / "web" / filename).read_bytes()
            policy = response.headers["Content-Security-Policy"]
            assert "default-src 'self'" in policy and "script-src 'self'" in policy
            assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["X-Frame-Options"] == "DENY"


async def test_modules_and_style_are_served_with_their_types() -> None:
    async with served(FakeNode()) as client:
        for folder in ("lib", "pages"):
            for file in sorted((ROOT / "web" / folder).glob("*.js")):
                response = await client.get(f"/{folder}/{file.name}")
                assert response.status == 200, file.name
                assert response.content_type == "text/javascript"
                assert await response.read() == file.read_bytes()
        style = await client.get("/style.css")
        assert style.content_type == "text/css"
        assert style.headers["X-Content-Type-Options"] == "nosniff"


async def test_unknown_or_escaping_names_are_404_json() -> None:
    async with served(FakeNode()) as client:
        for path in ("/lib/nope.js", "/pages/..%2Fstyle.css", "/lib/%2E%2E%2Fpyproject.toml"):
            response = await client.get(path)
            assert response.status == 404, path
            assert (await response.json())["error"]["code"] in ("file_not_found", "not_found")


def test_pages_have_no_inline_script_or_style_and_load_only_local_files() -> None:
    """The policy forbids inline code; a page relying on it would silently break."""
    for page in sorted((ROOT / "web").glob("*.html")):
        text = page.read_text()
        assert re.search(r"<script(?![^>]*\bsrc=)", text) is None, page.name
        assert "<style" not in text and " style=" not in text and " on" + "click=" not in text
        assert re.search(r"(src|href)=\"(https?:)?//", text) is None, page.name
    for module in sorted((ROOT / "web").rglob("*.js")):
        assert "http://" not in module.read_text().replace("http://127.0.0.1", ""), module


def test_every_page_links_every_page_and_marks_itself() -> None:
    """One menu on every page, so a buyer on the wallet finds the shop and back."""
    menu = ["/wallet", "/shop", "/seller", "/arbiter", "/explorer", "/operator"]
    for page in sorted((ROOT / "web").glob("*.html")):
        nav = re.search(r"<nav>(.*?)</nav>", page.read_text())
        assert nav is not None, page.name
        assert re.findall(r'href="([^"]+)"', nav.group(1)) == menu, page.name
        current = re.findall(r'href="/(\w+)" aria-current="page"', nav.group(1))
        assert current == ([page.stem] if f"/{page.stem}" in menu else []), page.name
